# Data stage: every survey becomes a light-curve store (a directory, docs/architecture.md), then split
# tables, their checks, the data tables (Tables 1-4) and Figs. 6 and B.1.
# Real surveys: download (Google Drive) -> ingest-authors (the config's class list, counted drops).
# Simulated: simulate. Only the unlabeled pool then goes through the white-noise filter (Sect. 5.1).

rule download:
    output:
        "<resources>/downloads/{dataset}.zip",
    params:
        file_id=lambda w: config["datasets"][w.dataset]["drive_id"],
    resources:
        **data_resources("download"),
    log:
        "<logs>/data/download_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data download --file-id {params.file_id} --dataset {wildcards.dataset} --out {output} > {log} 2>&1"


rule ingest_authors:
    input:
        "<resources>/downloads/{dataset}.zip",
    output:
        directory("<resources>/stores/{dataset}_ingested"),
    params:
        min_obs=lambda w: option("--min-obs", config["datasets"][w.dataset]["min_obs"]),
        classes=lambda w: class_options(w.dataset),
    resources:
        **data_resources("ingest"),
    log:
        "<logs>/data/ingest_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data ingest-authors --src {input} --survey {wildcards.dataset} --out {output} "
        "{params.min_obs} {params.classes} > {log} 2>&1"


rule simulate:
    output:
        directory("<resources>/stores/{dataset}_simulated"),
    params:
        options=simulate_options,
        seed=config["seed"],
    resources:
        **data_resources("simulate"),
    log:
        "<logs>/data/simulate_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data simulate {params.options} --seed {params.seed} --out {output} > {log} 2>&1"


rule filter:
    # the unlabeled pool only (Sect. 5.1); the labeled surveys are used as given (store() in common.smk)
    input:
        unfiltered_store(UNLABELED),
    output:
        store=directory(f"<resources>/stores/{UNLABELED}"),
        log=f"<results>/data/filter_{UNLABELED}.json",
    params:
        options=filter_options(),
        paper=f"--paper-kept {PAPER_FILTER_KEPT}",
    resources:
        **data_resources("filter"),
    log:
        f"<logs>/data/filter_{UNLABELED}.log",
    benchmark:
        f"<benchmarks>/data/filter_{UNLABELED}.tsv"
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data filter --store {input} --out {output.store} --log {output.log} {params.options} "
        "{params.paper} > {log} 2>&1"


rule training_columns:
    # a store as flat .npy columns that pretraining (the pool) and fine-tuning (each survey) read their
    # windows from (memory maps, bounded memory)
    input:
        store("{dataset}"),
    output:
        directory("<resources>/columns/{dataset}"),
    resources:
        **data_resources("columns"),
    log:
        "<logs>/data/columns_{dataset}.log",
    benchmark:
        "<benchmarks>/data/columns_{dataset}.tsv"
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data columns --store {input} --out {output} > {log} 2>&1"


rule split_pretrain:
    input:
        store("{dataset}"),
    output:
        "<resources>/splits/{dataset}_pretrain.csv",
    params:
        fractions=",".join(str(f) for f in config["splits"]["pretrain_fractions"]),
        seed=config["seed"],
    resources:
        **data_resources("split"),
    log:
        "<logs>/data/split_pretrain_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data split-pretrain --store {input} --seed {params.seed} --out {output} "
        "--fractions {params.fractions} > {log} 2>&1"


rule split_labeled:
    input:
        store("{survey}"),
    output:
        directory("<resources>/splits/{survey}"),
    params:
        seed=config["seed"],
        folds=config["splits"]["folds"],
        test_per_class=config["splits"]["test_per_class"],
        subsets=",".join(SUBSETS),
        val_fraction=config["splits"]["val_fraction"],
    resources:
        **data_resources("split"),
    log:
        "<logs>/data/split_labeled_{survey}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data split-labeled --store {input} --seed {params.seed} --folds {params.folds} "
        "--test-per-class {params.test_per_class} --subsets {params.subsets} "
        "--val-fraction {params.val_fraction} --out-dir {output} > {log} 2>&1"


rule check_splits:
    input:
        store=store("{survey}"),
        splits="<resources>/splits/{survey}",
    output:
        "<results>/data/splits_{survey}.json",
    resources:
        **data_resources("split"),
    log:
        "<logs>/data/check_splits_{survey}.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data check-splits --store {input.store} --split-dir {input.splits} --out {output} > {log} 2>&1"


rule data_tables:
    input:
        stores=[store(s) for s in SURVEYS],
        splits=expand("<resources>/splits/{survey}", survey=SURVEYS),
    output:
        report(
            expand("<results>/table{n}.{ext}", n=DATA_TABLES, ext=["csv", "tex"]),
            caption="../report/data_tables.rst",
            category="Data",
        ),
    params:
        pairs=lambda w, input: labeled_pairs(SURVEYS, input.stores),
        splits=lambda w, input: labeled_pairs(SURVEYS, input.splits),
        out_dir=lambda w, output: os.path.dirname(output[0]) or ".",
    resources:
        **data_resources("tables"),
    log:
        "<logs>/data/tables.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data tables --labeled {params.pairs} --splits {params.splits} --out-dir {params.out_dir} "
        "> {log} 2>&1"


rule fig6:
    input:
        unlabeled=store(UNLABELED),
        stores=[store(s) for s in SURVEYS],
    output:
        report("<results>/fig6.pdf", caption="../report/fig6.rst", category="Data"),
    params:
        pairs=lambda w, input: labeled_pairs(SURVEYS, input.stores),
    resources:
        **data_resources("figures"),
    log:
        "<logs>/data/fig6.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data fig6 --unlabeled {input.unlabeled} --labeled {params.pairs} --out {output} > {log} 2>&1"


rule figB1:
    input:
        stores=[store(s) for s in [UNLABELED] + SURVEYS],
    output:
        report("<results>/figB1.pdf", caption="../report/figB1.rst", category="Data"),
    params:
        pairs=lambda w, input: labeled_pairs([UNLABELED] + SURVEYS, input.stores),
    resources:
        **data_resources("figures"),
    log:
        "<logs>/data/figB1.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data figB1 --stores {params.pairs} --out {output} > {log} 2>&1"
