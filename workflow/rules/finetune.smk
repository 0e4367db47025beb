# Fine-tuning per survey, subset and fold, with the pretraining loss and hyper-parameters
# (Table 5, Fig. 9, Fig. C.1). The fine-tuned encoders feed the classifiers' science cases.


rule finetune:
    input:
        init=pretrained_weights,
        data=store("{survey}"),
        splits="<resources>/splits/{survey}",
        model_config="<results>/model_config.json",
    output:
        model="<results>/finetune/{mode}/{survey}/{subset}/fold{fold}/model.keras",
        history="<results>/finetune/{mode}/{survey}/{subset}/fold{fold}/history.csv",
        metrics="<results>/finetune/{mode}/{survey}/{subset}/fold{fold}/metrics.json",
    params:
        split=split_csv,
        out_dir=lambda w, output: os.path.dirname(output.model),
        ckpt_dir=ckpt_dir("<resources>/checkpoints/finetune/{mode}/{survey}/{subset}/fold{fold}"),
        training=training_args("finetune"),
    resources:
        **gpu_resources("finetune"),
    log:
        "<logs>/finetune/{mode}/{survey}/{subset}/fold{fold}.log",
    benchmark:
        "<benchmarks>/finetune/{mode}/{survey}/{subset}/fold{fold}.tsv"
    conda:
        "../../envs/cuda.yaml"
    shell:
        "astromer finetune --init {input.init} --data {input.data} --split {params.split} "
        "--out {params.out_dir} --ckpt-dir {params.ckpt_dir} --mode {wildcards.mode} "
        "--model-config {input.model_config} {params.training} > {log} 2>&1"
