# Classifiers per survey, subset and fold (Fig. 11, Fig. 12), early-stopped on the validation loss.
# Science cases: (a) encoder fine-tuned on the subset, frozen; (b) the same encoder trained with the
# classifier; (c) encoder fine-tuned on all the fold's curves, trained with the classifier.
# Baselines work on the light curves alone (no encoder): the paper's LSTM and, beyond the paper,
# features + random forest. The learning-rate search of the LSTM baseline is Fig. D.1.


rule classify:
    input:
        encoder=case_encoder,
        data=store("{survey}"),
        splits="<resources>/splits/{survey}",
    output:
        metrics="<results>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}/metrics.json",
        history="<results>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}/history.csv",
        report="<results>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}/report.csv",
        confusion="<results>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}/confusion.csv",
    params:
        split=split_csv,
        encoder_mode=lambda w: CASE_ENCODER_MODE[w.case],
        out_dir=lambda w, output: os.path.dirname(output.metrics),
        ckpt_dir=ckpt_dir("<resources>/checkpoints/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}"),
        training=classifier_args(),
    resources:
        **gpu_resources("classify"),
    log:
        "<logs>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}.log",
    benchmark:
        "<benchmarks>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}.tsv"
    conda:
        "../../envs/cuda.yaml"
    shell:
        "astromer classify --encoder {input.encoder} --data {input.data} --split {params.split} "
        "--classifier {wildcards.classifier} --encoder-mode {params.encoder_mode} "
        "--out {params.out_dir} --ckpt-dir {params.ckpt_dir} {params.training} > {log} 2>&1"


rule baseline_lstm:
    input:
        data=store("{survey}"),
        splits="<resources>/splits/{survey}",
    output:
        metrics="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/metrics.json",
        history="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/history.csv",
        report="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/report.csv",
        confusion="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/confusion.csv",
    params:
        split=split_csv,
        out_dir=lambda w, output: os.path.dirname(output.metrics),
        ckpt_dir=ckpt_dir("<resources>/checkpoints/baseline/{survey}/{subset}/fold{fold}/lstm"),
        training=classifier_args(),
    resources:
        **gpu_resources("classify"),
    log:
        "<logs>/baseline/{survey}/{subset}/fold{fold}/lstm.log",
    benchmark:
        "<benchmarks>/baseline/{survey}/{subset}/fold{fold}/lstm.tsv"
    conda:
        "../../envs/cuda.yaml"
    shell:
        "astromer classify --data {input.data} --split {params.split} --classifier lstm "
        "--out {params.out_dir} --ckpt-dir {params.ckpt_dir} {params.training} > {log} 2>&1"


rule baseline_rf:
    input:
        data=store("{survey}"),
        splits="<resources>/splits/{survey}",
    output:
        metrics="<results>/baseline/{survey}/{subset}/fold{fold}/rf/metrics.json",
        report="<results>/baseline/{survey}/{subset}/fold{fold}/rf/report.csv",
        confusion="<results>/baseline/{survey}/{subset}/fold{fold}/rf/confusion.csv",
    params:
        split=split_csv,
        out_dir=lambda w, output: os.path.dirname(output.metrics),
        ckpt_dir=ckpt_dir("<resources>/checkpoints/baseline/{survey}/{subset}/fold{fold}/rf"),
        seed=config["seed"],
        max_obs=config["model"]["max_obs"],
    resources:
        runtime=config["classify"]["runtime"],
        mem_mb=config["classify"]["mem_mb"],
    log:
        "<logs>/baseline/{survey}/{subset}/fold{fold}/rf.log",
    benchmark:
        "<benchmarks>/baseline/{survey}/{subset}/fold{fold}/rf.tsv"
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer classify --data {input.data} --split {params.split} --classifier rf "
        "--out {params.out_dir} --ckpt-dir {params.ckpt_dir} --seed {params.seed} --max-obs {params.max_obs} > {log} 2>&1"


rule lr_search:
    input:
        data=store("{survey}"),
        splits="<resources>/splits/{survey}",
    output:
        directory("<results>/lr_search/{survey}"),
    params:
        split=lambda w, input: f"{input.splits}/fold{config['lr_search']['fold']}/{config['lr_search']['subset']}.csv",
        lrs=",".join(str(lr) for lr in config["lr_search"]["lrs"]),
        training=classifier_args(with_lr=False),
    resources:
        **gpu_resources("classify"),
    log:
        "<logs>/lr_search/{survey}.log",
    benchmark:
        "<benchmarks>/lr_search/{survey}.tsv"
    conda:
        "../../envs/cuda.yaml"
    shell:
        "astromer lr-search --data {input.data} --split {params.split} --lrs {params.lrs} "
        "{params.training} --out {output} > {log} 2>&1"
