# Pretraining on the unlabeled pool (Fig. 8, Table 5's first row), one encoder per mode.
# The resume checkpoint (--ckpt-dir) is deliberately NOT an output: Snakemake deletes the outputs of a
# failed job, and a job killed at its time limit must find its checkpoint when retried.


rule model_config:
    output:
        "<results>/model_config.json",
    log:
        "<logs>/model_config.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        # sorted text, so that reordering the config file does not look like a change
        content=json.dumps(config["model"], sort_keys=True),
    script:
        "../scripts/write_json.py"


rule pretrain:
    input:
        data=store(UNLABELED),
        columns=f"<resources>/columns/{UNLABELED}",
        split=f"<resources>/splits/{UNLABELED}_pretrain.csv",
        model_config="<results>/model_config.json",
    output:
        model="<results>/pretrain/{mode}/model.keras",
        history="<results>/pretrain/{mode}/history.csv",
        metrics="<results>/pretrain/{mode}/metrics.json",
    log:
        "<logs>/pretrain/{mode}.log",
    benchmark:
        "<benchmarks>/pretrain/{mode}.tsv"
    # the head of the DAG's longest path (pretrain -> finetune -> classify): first, so that the baselines
    # and the learning-rate search fill the cores beside it instead of delaying it
    priority: 10
    conda:
        "../../envs/cuda.yaml"
    resources:
        **gpu_resources("pretrain"),
    params:
        out_dir=lambda w, output: os.path.dirname(output.model),
        ckpt_dir=ckpt_dir("<resources>/checkpoints/pretrain/{mode}"),
        extra=training_args("pretrain"),
    shell:
        "astromer pretrain --data {input.data} --columns {input.columns} --split {input.split} --out {params.out_dir} "
        "--ckpt-dir {params.ckpt_dir} --mode {wildcards.mode} --model-config {input.model_config} "
        "{params.extra} 2>&1 | tee -a {log}.all > {log}"


# encoder_source: published -- the authors' weights instead of our pretraining: downloaded once, each file
# checked against the SHA-256 recorded in the library (and the zip against published_sha256 if given).
rule download_weights:
    output:
        directory("<resources>/weights/{weights_name}"),
    log:
        "<logs>/download_weights_{weights_name}.log",
    wildcard_constraints:
        weights_name="macho_a0|macho",
    conda:
        "../../envs/cpu.yaml"
    params:
        sha256=option("--sha256", config["pretrain"]["published_sha256"]),
    shell:
        "astromer data download-weights --name {wildcards.weights_name} --out {output} {params.sha256} > {log} 2>&1"
