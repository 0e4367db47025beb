# Data stage: every survey becomes a light-curve store (a directory, docs/architecture.md), then split
# tables, their checks, the data tables (Tables 1-4) and Figs. 6 and B.1.
# Real surveys: download (Google Drive) -> ingest-authors (the config's class list, counted drops).
# Simulated: simulate. Only the unlabeled pool then goes through the white-noise filter (Sect. 5.1).


rule download:
    output:
        "<resources>/downloads/{dataset}.zip",
    log:
        "<logs>/data/download_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("download"),
    params:
        file_id=lambda w: config["datasets"][w.dataset]["drive_id"],
    shell:
        "astromer data download --file-id {params.file_id} --dataset {wildcards.dataset} --out {output} > {log} 2>&1"


rule ingest_authors:
    input:
        "<resources>/downloads/{dataset}.zip",
    output:
        directory("<resources>/stores/{dataset}_ingested"),
    log:
        "<logs>/data/ingest_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("ingest"),
    params:
        min_obs=lambda w: option("--min-obs", config["datasets"][w.dataset]["min_obs"]),
        classes=lambda w: class_options(w.dataset),
    shell:
        "astromer data ingest-authors --src {input} --survey {wildcards.dataset} --out {output} "
        "{params.min_obs} {params.classes} > {log} 2>&1"


rule simulate:
    output:
        directory("<resources>/stores/{dataset}_simulated"),
    log:
        "<logs>/data/simulate_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("simulate"),
    params:
        options=simulate_options,
        seed=config["seed"],
    shell:
        "astromer data simulate {params.options} --seed {params.seed} --out {output} > {log} 2>&1"


rule filter:
    # the unlabeled pool only (Sect. 5.1); the labeled surveys are used as given (store() in common.smk)
    input:
        unfiltered_store(UNLABELED),
    output:
        store=directory(f"<resources>/stores/{UNLABELED}"),
        log=f"<results>/data/filter_{UNLABELED}.json",
    log:
        f"<logs>/data/filter_{UNLABELED}.log",
    benchmark:
        f"<benchmarks>/data/filter_{UNLABELED}.tsv"
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("filter"),
    params:
        options=filter_options(),
        paper=f"--paper-kept {PAPER_FILTER_KEPT}",
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
    log:
        "<logs>/data/columns_{dataset}.log",
    benchmark:
        "<benchmarks>/data/columns_{dataset}.tsv"
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("columns"),
    shell:
        "astromer data columns --store {input} --out {output} > {log} 2>&1"


rule split_pretrain:
    input:
        store("{dataset}"),
    output:
        "<resources>/splits/{dataset}_pretrain.csv",
    log:
        "<logs>/data/split_pretrain_{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("split"),
    params:
        fractions=",".join(str(f) for f in config["splits"]["pretrain_fractions"]),
        seed=config["seed"],
    shell:
        "astromer data split-pretrain --store {input} --seed {params.seed} --out {output} "
        "--fractions {params.fractions} > {log} 2>&1"


rule split_labeled:
    input:
        store("{survey}"),
    output:
        directory("<resources>/splits/{survey}"),
    log:
        "<logs>/data/split_labeled_{survey}.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("split"),
    params:
        seed=config["seed"],
        folds=config["splits"]["folds"],
        test_per_class=config["splits"]["test_per_class"],
        subsets=",".join(SUBSETS),
        val_fraction=config["splits"]["val_fraction"],
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
    log:
        "<logs>/data/check_splits_{survey}.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("split"),
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
    log:
        "<logs>/data/tables.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("tables"),
    params:
        pairs=lambda w, input: labeled_pairs(SURVEYS, input.stores),
        splits=lambda w, input: labeled_pairs(SURVEYS, input.splits),
        out_dir=lambda w, output: os.path.dirname(output[0]) or ".",
    shell:
        "astromer data tables --labeled {params.pairs} --splits {params.splits} --out-dir {params.out_dir} "
        "> {log} 2>&1"


rule fig6:
    input:
        unlabeled=store(UNLABELED),
        stores=[store(s) for s in SURVEYS],
    output:
        report("<results>/fig6.pdf", caption="../report/fig6.rst", category="Data"),
    log:
        "<logs>/data/fig6.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("figures"),
    params:
        pairs=lambda w, input: labeled_pairs(SURVEYS, input.stores),
    shell:
        "astromer data fig6 --unlabeled {input.unlabeled} --labeled {params.pairs} --out {output} > {log} 2>&1"


rule figB1:
    input:
        stores=[store(s) for s in [UNLABELED] + SURVEYS],
    output:
        report("<results>/figB1.pdf", caption="../report/figB1.rst", category="Data"),
    log:
        "<logs>/data/figB1.log",
    conda:
        "../../envs/cpu.yaml"
    resources:
        **data_resources("figures"),
    params:
        pairs=lambda w, input: labeled_pairs([UNLABELED] + SURVEYS, input.stores),
    shell:
        "astromer data figB1 --stores {params.pairs} --out {output} > {log} 2>&1"
