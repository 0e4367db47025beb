# Fine-tuning per survey, subset and fold, with the pretraining loss and hyper-parameters
# (Table 5, Fig. 9, Fig. C.1). The fine-tuned encoders feed the classifiers' science cases. Like pretraining,
# fine-tuning reads its windows from the survey's training columns (--columns; data.smk).
# One job per target (`finetune`), or with `batch_jobs` one job per survey and fold running every subset's
# fine-tuning in one process (`finetune_batch`): the same commands and files, TensorFlow started once.


if not BATCH:

    rule finetune:
        input:
            init=pretrained_weights,
            data=store("{survey}"),
            columns="<resources>/columns/{survey}",
            splits="<resources>/splits/{survey}",
            model_config="<results>/model_config.json",
        output:
            model="<results>/finetune/{mode}/{survey}/{subset}/fold{fold}/model.keras",
            history="<results>/finetune/{mode}/{survey}/{subset}/fold{fold}/history.csv",
            metrics="<results>/finetune/{mode}/{survey}/{subset}/fold{fold}/metrics.json",
        log:
            "<logs>/finetune/{mode}/{survey}/{subset}/fold{fold}.log",
        benchmark:
            "<benchmarks>/finetune/{mode}/{survey}/{subset}/fold{fold}.tsv"
        conda:
            "../../envs/cuda.yaml"
        resources:
            **gpu_resources("finetune"),
        params:
            split=split_csv,
            out_dir=lambda w, output: os.path.dirname(output.model),
            ckpt_dir=ckpt_dir(
                "<resources>/checkpoints/finetune/{mode}/{survey}/{subset}/fold{fold}"
            ),
            extra=training_args("finetune"),
        shell:
            "astromer finetune --init {input.init} --data {input.data} --columns {input.columns} --split {params.split} "
            "--out {params.out_dir} --ckpt-dir {params.ckpt_dir} --mode {wildcards.mode} --model-config {input.model_config} "
            "--survey {wildcards.survey} --subset {wildcards.subset} --fold {wildcards.fold} {params.extra} "
            "2>&1 | tee -a {log}.all > {log}"

else:

    rule finetune_batch:
        input:
            init=pretrained_weights,
            data=store("{survey}"),
            columns="<resources>/columns/{survey}",
            splits="<resources>/splits/{survey}",
            model_config="<results>/model_config.json",
        output:
            model=expand(
                "<results>/finetune/{{mode}}/{{survey}}/{subset}/fold{{fold}}/model.keras",
                subset=SUBSETS,
            ),
            history=expand(
                "<results>/finetune/{{mode}}/{{survey}}/{subset}/fold{{fold}}/history.csv",
                subset=SUBSETS,
            ),
            metrics=expand(
                "<results>/finetune/{{mode}}/{{survey}}/{subset}/fold{{fold}}/metrics.json",
                subset=SUBSETS,
            ),
        log:
            "<logs>/finetune/{mode}/{survey}/fold{fold}.log",
        benchmark:
            "<benchmarks>/finetune/{mode}/{survey}/fold{fold}.tsv"
        conda:
            "../../envs/cuda.yaml"
        resources:
            **gpu_resources("finetune", jobs=len(SUBSETS)),
        params:
            # one quoted `finetune --init ... --survey S --subset N --fold K ...` line per subset
            finetune_lines=lambda w, input, output: batch_commands(
                finetune_command(w, subset, input, os.path.dirname(model))
                for subset, model in zip(SUBSETS, output.model, strict=True)
            ),
        shell:
            "astromer batch {params.finetune_lines} 2>&1 | tee -a {log}.all > {log}"
