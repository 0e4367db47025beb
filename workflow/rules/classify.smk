# Classifiers per survey, subset and fold (Fig. 11, Fig. 12), early-stopped on the validation loss.
# Science cases: (a) encoder fine-tuned on the subset, frozen; (b) the same encoder trained with the
# classifier; (c) encoder fine-tuned on all the fold's curves, trained with the classifier.
# Baselines work on the light curves alone (no encoder): the paper's LSTM and, beyond the paper,
# features + random forest. The learning-rate search of the LSTM baseline (one survey, every fold) is Fig. D.1.
# One job per target, or with `batch_jobs` one `astromer batch` job per survey/subset/fold for the
# classifiers (`classify_batch`) and per survey/fold for the baselines (`baseline_batch`).

if not BATCH:

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
        log:
            "<logs>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}.log",
        benchmark:
            "<benchmarks>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}.tsv"
        conda:
            "../../envs/cuda.yaml"
        resources:
            **gpu_resources("classify"),
        params:
            split=split_csv,
            encoder_mode=lambda w: CASE_ENCODER_MODE[w.case],
            out_dir=lambda w, output: os.path.dirname(output.metrics),
            ckpt_dir=ckpt_dir(
                "<resources>/checkpoints/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}"
            ),
            extra=classifier_args(),
        shell:
            "astromer classify --encoder {input.encoder} --data {input.data} --split {params.split} "
            "--classifier {wildcards.classifier} --encoder-mode {params.encoder_mode} --survey {wildcards.survey} "
            "--case {wildcards.case} --subset {wildcards.subset} --fold {wildcards.fold} --out {params.out_dir} "
            "--ckpt-dir {params.ckpt_dir} {params.extra} 2>&1 | tee -a {log}.all > {log}"

    rule baseline_lstm:
        input:
            data=store("{survey}"),
            splits="<resources>/splits/{survey}",
        output:
            metrics="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/metrics.json",
            history="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/history.csv",
            report="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/report.csv",
            confusion="<results>/baseline/{survey}/{subset}/fold{fold}/lstm/confusion.csv",
        log:
            "<logs>/baseline/{survey}/{subset}/fold{fold}/lstm.log",
        benchmark:
            "<benchmarks>/baseline/{survey}/{subset}/fold{fold}/lstm.tsv"
        conda:
            "../../envs/cuda.yaml"
        resources:
            **gpu_resources("classify"),
        params:
            split=split_csv,
            out_dir=lambda w, output: os.path.dirname(output.metrics),
            ckpt_dir=ckpt_dir(
                "<resources>/checkpoints/baseline/{survey}/{subset}/fold{fold}/lstm"
            ),
            extra=baseline_args("lstm"),
        shell:
            "astromer classify --data {input.data} --split {params.split} --classifier lstm "
            "--survey {wildcards.survey} --subset {wildcards.subset} --fold {wildcards.fold} --out {params.out_dir} "
            "--ckpt-dir {params.ckpt_dir} {params.extra} 2>&1 | tee -a {log}.all > {log}"

    rule baseline_rf:
        input:
            data=store("{survey}"),
            splits="<resources>/splits/{survey}",
        output:
            metrics="<results>/baseline/{survey}/{subset}/fold{fold}/rf/metrics.json",
            report="<results>/baseline/{survey}/{subset}/fold{fold}/rf/report.csv",
            confusion="<results>/baseline/{survey}/{subset}/fold{fold}/rf/confusion.csv",
        log:
            "<logs>/baseline/{survey}/{subset}/fold{fold}/rf.log",
        benchmark:
            "<benchmarks>/baseline/{survey}/{subset}/fold{fold}/rf.tsv"
        conda:
            "../../envs/cpu.yaml"
        resources:
            runtime=config["classify"]["runtime"],
            mem_mb=config["classify"]["mem_mb"],
        params:
            split=split_csv,
            out_dir=lambda w, output: os.path.dirname(output.metrics),
            ckpt_dir=ckpt_dir(
                "<resources>/checkpoints/baseline/{survey}/{subset}/fold{fold}/rf"
            ),
            extra=baseline_args("rf"),
        shell:
            "astromer classify --data {input.data} --split {params.split} --classifier rf "
            "--survey {wildcards.survey} --subset {wildcards.subset} --fold {wildcards.fold} --out {params.out_dir} "
            "--ckpt-dir {params.ckpt_dir} {params.extra} 2>&1 | tee -a {log}.all > {log}"

else:

    rule classify_batch:
        input:
            unpack(classify_batch_inputs),
        output:
            metrics=classify_batch_files("metrics.json"),
            history=classify_batch_files("history.csv"),
            report=classify_batch_files("report.csv"),
            confusion=classify_batch_files("confusion.csv"),
        log:
            "<logs>/classify/{mode}/{survey}/{subset}/fold{fold}.log",
        benchmark:
            "<benchmarks>/classify/{mode}/{survey}/{subset}/fold{fold}.tsv"
        conda:
            "../../envs/cuda.yaml"
        resources:
            **gpu_resources("classify", jobs=len(CLASSIFY_RUNS)),
        params:
            # one quoted `classify --encoder ... --classifier C --case X ...` line per classifier and case
            classify_lines=lambda w, input, output: batch_commands(
                classify_command(
                    w,
                    c,
                    case,
                    input[f"encoder_{CASE_ENCODER_SUBSET[case]}"],
                    input,
                    os.path.dirname(metrics),
                )
                for (c, case), metrics in zip(
                    CLASSIFY_RUNS, output.metrics, strict=True
                )
            ),
        shell:
            "astromer batch {params.classify_lines} 2>&1 | tee -a {log}.all > {log}"


if BATCH and BASELINE_RUNS:

    rule baseline_batch:
        input:
            data=store("{survey}"),
            splits="<resources>/splits/{survey}",
        output:
            metrics=baseline_batch_files("metrics.json"),
            history=baseline_batch_files("history.csv", baselines=["lstm"]),
            report=baseline_batch_files("report.csv"),
            confusion=baseline_batch_files("confusion.csv"),
        log:
            "<logs>/baseline/{survey}/fold{fold}.log",
        benchmark:
            "<benchmarks>/baseline/{survey}/fold{fold}.tsv"
        conda:
            "../../envs/cuda.yaml"
        resources:
            **gpu_resources("classify", jobs=len(BASELINE_RUNS)),
        params:
            # one quoted `classify --classifier lstm|rf ...` line per baseline and subset (no encoder)
            classify_lines=lambda w, input, output: batch_commands(
                baseline_command(w, b, subset, input, os.path.dirname(metrics))
                for (b, subset), metrics in zip(
                    BASELINE_RUNS, output.metrics, strict=True
                )
            ),
        shell:
            "astromer batch {params.classify_lines} 2>&1 | tee -a {log}.all > {log}"


rule lr_search:
    # Appendix D: the LSTM baseline's learning rate, cross-validated over every fold of one survey
    input:
        data=store("{survey}"),
        splits="<resources>/splits/{survey}",
    output:
        directory("<results>/lr_search/{survey}/fold{fold}"),
    log:
        "<logs>/lr_search/{survey}/fold{fold}.log",
    benchmark:
        "<benchmarks>/lr_search/{survey}/fold{fold}.tsv"
    conda:
        "../../envs/cuda.yaml"
    resources:
        **gpu_resources("classify"),
    params:
        split=lambda w, input: f"{input.splits}/fold{w.fold}/{config['lr_search']['subset']}.csv",
        subset=config["lr_search"]["subset"],
        lrs=",".join(str(lr) for lr in config["lr_search"]["lrs"]),
        extra=classifier_args(with_lr=False, baseline=True),
    shell:
        "astromer lr-search --data {input.data} --split {params.split} --lrs {params.lrs} "
        "{params.extra} --survey {wildcards.survey} --subset {params.subset} --fold {wildcards.fold} "
        "--out {output} 2>&1 | tee -a {log}.all > {log}"
