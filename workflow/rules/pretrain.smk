# Pretraining on the unlabeled pool (Fig. 8, Table 5's first row), one encoder per mode.
# The resume checkpoint (--ckpt-dir) is deliberately NOT an output: Snakemake deletes the outputs of a
# failed job, and a job killed at its time limit must find its checkpoint when retried.


rule model_config:
    output:
        "<results>/model_config.json",
    params:
        # sorted text, so that reordering the config file does not look like a change
        content=json.dumps(config["model"], sort_keys=True),
    log:
        "<logs>/model_config.log",
    conda:
        "../../envs/cpu.yaml"
    script:
        "../scripts/write_json.py"


rule pretrain:
    input:
        data=store(UNLABELED),
        split=f"<resources>/splits/{UNLABELED}_pretrain.csv",
        model_config="<results>/model_config.json",
    output:
        model="<results>/pretrain/{mode}/model.keras",
        history="<results>/pretrain/{mode}/history.csv",
        metrics="<results>/pretrain/{mode}/metrics.json",
    params:
        out_dir=lambda w, output: os.path.dirname(output.model),
        ckpt_dir=ckpt_dir("<resources>/checkpoints/pretrain/{mode}"),
        training=training_args("pretrain"),
        masking=(
            f"--msk-frac {config['pretrain']['msk_frac']} --rnd-frac {config['pretrain']['rnd_frac']} "
            f"--same-frac {config['pretrain']['same_frac']}"
        ),
    resources:
        **gpu_resources("pretrain"),
    log:
        "<logs>/pretrain/{mode}.log",
    benchmark:
        "<benchmarks>/pretrain/{mode}.tsv"
    conda:
        "../../envs/cuda.yaml"
    shell:
        "astromer pretrain --data {input.data} --split {input.split} --out {params.out_dir} "
        "--ckpt-dir {params.ckpt_dir} --mode {wildcards.mode} --model-config {input.model_config} "
        "{params.training} {params.masking} > {log} 2>&1"
