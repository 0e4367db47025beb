"""Dry runs of the paper's and the demo's DAGs: the paper's design, job counts, GPU tags, speed,
one survey alone, and the demo never writing where the paper does."""

import re

import pytest

from workflow_support import (
    PAPER_CASES,
    PAPER_CLASSIFIERS,
    PAPER_FOLDS,
    PAPER_SUBSETS,
    PAPER_SURVEYS,
    dry_run,
    job_blocks,
    job_counts,
)

CELLS = len(PAPER_SURVEYS) * len(PAPER_SUBSETS) * PAPER_FOLDS  # survey x subset x fold
GPU_RULES = {"pretrain", "finetune", "classify", "baseline_lstm", "lr_search"}


@pytest.fixture(scope="module")
def paper_dry_run():
    # -n turns the Slurm executor into the dry-run one: nothing is submitted, no Slurm needed
    result, seconds = dry_run("--profile", "profiles/slurm", "--quiet", "rules")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr, seconds


@pytest.fixture(scope="module")
def paper_jobs():
    result, _ = dry_run("--profile", "profiles/slurm")
    assert result.returncode == 0, result.stdout + result.stderr
    return job_blocks(result.stdout + result.stderr)


def test_paper_dag_has_the_papers_design(paper_dry_run):
    counts = job_counts(paper_dry_run[0])
    assert counts["pretrain"] == 1  # one encoder (paper mode) on the unlabeled MACHO pool
    assert counts["finetune"] == CELLS  # 3 surveys x 5 subsets x 3 folds
    # LSTM+ATT and MLP+ATT x science cases a (frozen), b and c (trained), per survey x subset x fold
    assert counts["classify"] == CELLS * len(PAPER_CLASSIFIERS) * len(PAPER_CASES)
    assert counts["baseline_lstm"] == CELLS
    assert "baseline_rf" not in counts  # beyond the paper: only when asked for
    assert counts["lr_search"] == PAPER_FOLDS  # Appendix D: the MACHO (alcock) baseline, every fold
    assert counts["download"] == counts["ingest_authors"] == 4  # MACHO pool + 3 surveys
    assert counts["filter"] == 1  # the white-noise filter: the unlabeled pool only (Sect. 5.1)
    assert counts["split_labeled"] == counts["check_splits"] == 3
    for figure in (
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
        "table5",
        "data_tables",
    ):
        assert counts[figure] == 1, figure
    for per_survey in ("fig9_survey", "fig11_survey", "fig12_survey", "figC1_survey"):
        assert counts[per_survey] == 3, per_survey


def test_filter_only_on_the_unlabeled_pool_labeled_stores_unfiltered(paper_jobs):
    (filter_job,) = [job for job in paper_jobs if job["rule"] == "filter"]
    assert filter_job["input"] == "resources/stores/macho_ingested"
    assert filter_job["output"].split(", ")[0] == "resources/stores/macho"
    readers = {"split_labeled", "check_splits", "finetune", "classify", "baseline_lstm", "lr_search", "data_tables"}
    seen = set()
    for job in paper_jobs:
        inputs = job.get("input", "").split(", ")
        stores = [p for p in inputs if p.startswith("resources/stores/")]
        if job["rule"] in readers:
            seen.add(job["rule"])
            labeled = [p for p in stores if "macho" not in p]
            assert labeled and all(p.endswith("_ingested") for p in labeled), (job["rule"], stores)
        if job["rule"] == "pretrain":
            assert stores == ["resources/stores/macho"]  # pretraining reads the filtered pool
    assert seen == readers


def test_lr_search_is_cross_validated_on_alcock(paper_jobs):
    searches = sorted(job["wildcards"] for job in paper_jobs if job["rule"] == "lr_search")
    assert searches == [f"survey=alcock, fold={k}" for k in range(PAPER_FOLDS)]


def test_fig12_and_claims_read_the_lstm_baseline(paper_jobs):
    (fig12,) = [job for job in paper_jobs if job["rule"] == "fig12"]
    inputs = fig12["input"].split(", ")
    for survey in PAPER_SURVEYS:
        for fold in range(PAPER_FOLDS):
            assert f"results/baseline/{survey}/500/fold{fold}/lstm/history.csv" in inputs


def test_paper_class_lists_reach_ingestion():
    result, _ = dry_run(
        "-p", "resources/stores/alcock_ingested", "resources/stores/atlas_ingested", "resources/stores/macho_ingested"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    commands = {
        re.search(r"--survey (\w+)", line).group(1): line
        for line in result.stdout.splitlines()
        if "astromer data ingest-authors" in line
    }
    assert commands["alcock"].endswith("--classes Cep_0,Cep_1,EC,LPV,RRab,RRc > logs/data/ingest_alcock.log 2>&1")
    # Sect. 5.2: full- and half-period binaries grouped into CB and DB before the class list
    assert "--class-map CBF=CB,CBH=CB,DBF=DB,DBH=DB --classes CB,DB,Mira,Other,Pulse" in commands["atlas"]
    assert "--classes" not in commands["macho"]  # the unlabeled pool has no class list


def test_paper_dry_run_is_fast(paper_dry_run):
    assert paper_dry_run[1] < 5.0, f"dry run of the paper DAG took {paper_dry_run[1]:.1f} s"


def test_every_experiment_cell_and_case_is_there(paper_jobs):
    seen = set()
    for job in paper_jobs:
        if job["rule"] == "classify":
            w = dict(kv.split("=") for kv in job["wildcards"].split(", "))
            seen.add((w["survey"], w["subset"], w["fold"], w["classifier"], w["case"]))
    expected = {
        (s, n, str(f), c, case)
        for s in PAPER_SURVEYS
        for n in PAPER_SUBSETS
        for f in range(PAPER_FOLDS)
        for c in PAPER_CLASSIFIERS
        for case in PAPER_CASES
    }
    assert seen == expected


def test_science_cases_use_the_right_encoder(paper_jobs):
    for job in paper_jobs:
        if job["rule"] != "classify":
            continue
        w = dict(kv.split("=") for kv in job["wildcards"].split(", "))
        encoder_subset = "all" if w["case"] == "c" else w["subset"]
        expected = f"results/finetune/paper/{w['survey']}/{encoder_subset}/fold{w['fold']}/model.keras"
        assert expected in job["input"].split(", "), (w, job["input"])


def test_gpu_rules_carry_portable_gpu_resources(paper_jobs):
    tagged = {job["rule"] for job in paper_jobs if "gpu=1" in job.get("resources", "")}
    assert tagged == GPU_RULES
    for job in paper_jobs:
        if job["rule"] in GPU_RULES:
            res = job["resources"]
            for key in ("gpu_model=a100", "runtime=", "mem_mb=", "cpus_per_gpu="):
                assert key in res, (job["rule"], res)
        else:
            assert "gpu=" not in job.get("resources", ""), job


def test_checkpoint_folders_are_not_outputs(paper_jobs):
    # Snakemake deletes the outputs of a failed job; the resume state must survive a time-limit kill
    for job in paper_jobs:
        assert "checkpoints" not in job.get("output", ""), job


def _outputs(jobs):
    files = set()
    for job in jobs:
        for key in ("output", "log"):
            files.update(p for p in job.get(key, "").split(", ") if p)
    return files


def test_one_survey_touches_only_its_jobs():
    for args in (["results/fig11_ogle.pdf"], ["--config", "surveys=[ogle]"]):
        result, seconds = dry_run("--profile", "profiles/slurm", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        jobs = job_blocks(result.stdout + result.stderr)
        outputs = _outputs(jobs)
        assert any("/ogle/" in p or "_ogle" in p for p in outputs)
        others = [p for p in outputs if re.search(r"alcock|atlas", p)]
        assert others == [], (args, others[:5])
        counts = job_counts(result.stdout + result.stderr)
        assert counts["finetune"] == len(PAPER_SUBSETS) * PAPER_FOLDS
        assert seconds < 5.0


def test_demo_and_paper_never_write_the_same_files(paper_jobs):
    result, _ = dry_run("--configfile", "config/demo.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    demo = _outputs(job_blocks(result.stdout + result.stderr))
    paper = _outputs(paper_jobs)
    assert demo and paper and not demo & paper
    roots = ("results/demo/", "resources/demo/", "logs/demo/", "benchmarks/demo/")
    assert all(p.startswith(roots) for p in demo), sorted(p for p in demo if not p.startswith(roots))[:5]
    counts = job_counts(result.stdout + result.stderr)
    assert counts["simulate"] == 4 and "download" not in counts


def test_published_weights_replace_pretraining(tmp_path):
    weights = tmp_path / "macho_a0.zip"
    weights.write_bytes(b"")  # only has to exist for the dry run
    override = tmp_path / "published.yaml"
    override.write_text(f"pretrain:\n  encoder_source: published\n  published_weights: {weights}\n")
    result, _ = dry_run("--configfile", str(override))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    counts = job_counts(result.stdout + result.stderr)
    assert "pretrain" not in counts and "fig8" not in counts and "split_pretrain" not in counts
    assert counts["finetune"] == CELLS
    finetunes = [j for j in job_blocks(result.stdout + result.stderr) if j["rule"] == "finetune"]
    assert all(str(weights) in j["input"] for j in finetunes)
    assert "download_weights" not in counts  # the user's own copy is used as is


def test_published_encoder_is_downloaded_and_runs_in_legacy_mode(tmp_path):
    """encoder_source: published runs the authors' weights in legacy mode whatever `modes` says."""
    sha256 = "ab" * 32
    override = tmp_path / "published.yaml"
    override.write_text(
        f"pretrain:\n  encoder_source: published\n  modes: [paper, legacy]\n  published_sha256: '{sha256}'\n"
    )
    result, _ = dry_run("--profile", "profiles/slurm", "--configfile", str(override), "--printshellcmds")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    counts = job_counts(output)
    assert counts["download_weights"] == 1 and "pretrain" not in counts
    assert counts["finetune"] == CELLS and counts["classify"] == CELLS * len(PAPER_CLASSIFIERS) * len(PAPER_CASES)
    commands = [
        line.removeprefix("Shell command: ")
        for line in output.splitlines()
        if line.startswith("Shell command: astromer ")
    ]
    finetunes = [c for c in commands if c.startswith("astromer finetune ")]
    assert len(finetunes) == CELLS
    assert all("--init resources/weights/macho_a0 " in c and "--mode legacy " in c for c in finetunes)
    (download,) = [c for c in commands if c.startswith("astromer data download-weights ")]
    assert f"--name macho_a0 --out resources/weights/macho_a0 --sha256 {sha256}" in download
    jobs = job_blocks(output)
    paths = _outputs(jobs) | {p for j in jobs for p in j.get("input", "").split(", ")}
    assert not [p for p in paths if "/paper/" in p], "a result path in paper mode"
    assert any("/legacy/" in p for p in paths)
    figures = [j for j in jobs if j["rule"] in ("fig2", "figA1")]
    assert len(figures) == 2 and all("resources/weights/macho_a0" in j["input"] for j in figures)


def test_paper_training_schedule_reaches_pretraining_and_fine_tuning():
    """Sect. 6.1-6.2: every window once per epoch, batches of 5,000, Adam 1e-3, patience 40, masking 50/20/20,
    for pretraining and (same hyper-parameters) fine-tuning, all passed from the config."""
    result, _ = dry_run("--profile", "profiles/slurm", "--printshellcmds")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    commands = [
        line.removeprefix("Shell command: ")
        for line in output.splitlines()
        if line.startswith("Shell command: astromer pretrain ") or line.startswith("Shell command: astromer finetune ")
    ]
    assert len(commands) == 1 + CELLS
    schedule = (
        "--patience 40 ",
        "--batch-size 5000 ",
        "--lr 0.001 ",
        "--windows-per-epoch all ",
        "--msk-frac 0.5 ",
        "--rnd-frac 0.2 ",
        "--same-frac 0.2 ",
    )
    for command in commands:
        assert all(part in command for part in schedule), command


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
@pytest.mark.parametrize("config", ["config/config.yaml", "config/demo.yaml"])
def test_every_command_of_the_dag_parses_with_the_real_astromer_parser(config):
    """One job per target (the paper) and batched jobs (the demo): every `astromer ...` a rule runs is a
    valid command line of the library's own parser (the contract stand-in of the Slurm tests cannot drift)."""
    import shlex

    from astromer.cli import parse

    result, _ = dry_run("--configfile", config, "--printshellcmds")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    commands = [
        line.removeprefix("Shell command: ")
        for line in output.splitlines()
        if line.startswith("Shell command: ") and "astromer " in line
    ]
    assert len(commands) > 20
    parsed, runs = 0, []
    for command in commands:
        # `( astromer ... && astromer ... ) 2>&1 | tee ...`: every astromer invocation, up to its redirection
        for part in re.split(r"&&|\|\||;|\|", command):
            words = shlex.split(part.replace("(", " ").replace(")", " "))
            if "astromer" not in words:
                continue
            argv = words[words.index("astromer") + 1 :]
            argv = argv[: next((i for i, w in enumerate(argv) if w.startswith(("2>", ">", "1>"))), len(argv))]
            try:
                runs += parse(argv)
            except SystemExit as exc:
                pytest.fail(f"astromer's parser refuses a rule's command ({exc}): {part.strip()}")
    parsed = len(runs)
    assert parsed >= len(commands)
    _every_run_is_told_its_cell(runs)


def _every_run_is_told_its_cell(runs):
    """Every fine-tuning, classifier, baseline and lr search gets the survey, subset, fold (and case) of the
    folder it writes -- what its metrics.json records and the figures read -- and fine-tuning reads the
    survey's training columns. (The layout is read here, by the test, to check the rules; never by the library.)"""
    checked = 0
    for args in runs:
        if args.command not in ("classify", "finetune", "lr-search"):
            continue
        parts = args.out.split("/")
        k = next(i for i, part in enumerate(parts) if re.fullmatch(r"fold\d+", part))
        stage = next(part for part in ("classify", "baseline", "finetune", "lr_search") if part in parts)
        survey = parts[k - 1] if stage == "lr_search" else parts[k - 2]
        assert (args.survey, args.fold) == (survey, int(parts[k][4:])), (args.survey, args.fold, args.out)
        if stage != "lr_search":
            assert args.subset == parts[k - 1], (args.subset, args.out)
        if stage == "classify":
            assert args.case == parts[k + 1].rsplit("_", 1)[1] and args.classifier in parts[k + 1], args.out
        elif stage == "baseline":
            assert args.case is None and args.classifier == parts[k + 1], args.out
        if stage == "finetune":
            assert args.columns.endswith(f"columns/{survey}"), (args.columns, args.out)
        checked += 1
    assert checked > 10


DATA_RULE_STAGES = {
    "download": "download",
    "ingest_authors": "ingest",
    "filter": "filter",
    "training_columns": "columns",
    "split_pretrain": "split",
    "split_labeled": "split",
    "check_splits": "split",
    "data_tables": "tables",
    "fig6": "figures",
    "figB1": "figures",
}


def test_paper_data_rules_carry_the_measured_memory_and_time(paper_jobs):
    """Issue 17: every data job asks Slurm for the config's data_resources (sized in config/README.md), not the
    profile's 4 GB default; pretraining reads its windows from the training columns."""
    import yaml

    from workflow_support import REPO

    sized = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["data_resources"]
    assert set(sized) >= set(DATA_RULE_STAGES.values())
    seen = set()
    for job in paper_jobs:
        stage = DATA_RULE_STAGES.get(job["rule"])
        if stage is None:
            continue
        seen.add(job["rule"])
        res = job["resources"]
        assert f"mem_mb={sized[stage]['mem_mb']}," in res + ",", (job["rule"], res)
        assert f"runtime={sized[stage]['runtime']}," in res + ",", (job["rule"], res)
    assert seen == set(DATA_RULE_STAGES)
    # the bounded stages ask for less than the whole-pool ones
    assert sized["filter"]["mem_mb"] < sized["ingest"]["mem_mb"]
    pretrain = [job for job in paper_jobs if job["rule"] == "pretrain"]
    assert pretrain and all("resources/columns/macho" in job["input"] for job in pretrain)


def test_a_mode_of_the_leak_study_alone_gets_one_finetuning_and_one_case_a_run_per_fold(tmp_path):
    """leak.modes [legacy, paper] with pretrain.modes [paper]: the legacy encoder is pretrained, and per fold
    fine-tuned on leak.f1_subset and classified in case (a) by leak.f1_classifier (rule leak_f1) -- no grid of
    legacy fine-tunings and classifiers; the paper mode's F1 comes from the experiments' own runs."""
    override = tmp_path / "leak.yaml"
    override.write_text("leak:\n  modes: [legacy, paper]\n  f1_subset: all\n  f1_classifier: lstm_att\n")
    result, _ = dry_run("--configfile", "config/demo.yaml", str(override), "--printshellcmds")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    counts = job_counts(output)
    assert counts["pretrain"] == 2 and counts["leak_f1"] == 2  # legacy + paper; one leak_f1 per demo fold
    jobs = job_blocks(output)
    paths = _outputs(jobs) | {p for j in jobs for p in j.get("input", "").split(", ")}
    assert not [p for p in paths if "/finetune/legacy/" in p and "/leak/" not in p]
    assert not [p for p in paths if "/classify/legacy/" in p and "/leak/" not in p]
    (leak,) = [j for j in jobs if j["rule"] == "leak_table"]
    f1_inputs = sorted(p for p in leak["input"].split(", ") if p.endswith("_a/metrics.json"))
    assert f1_inputs == [
        f"results/demo/{root}/{mode}/alcock/all/fold{fold}/lstm_att_a/metrics.json"
        for root, mode in (("classify", "paper"), ("leak/classify", "legacy"))
        for fold in (0, 1)
    ]
    commands = [line for line in output.splitlines() if line.startswith("Shell command: ") and "'classify" in line]
    commands = [c for c in commands if "'finetune" in c]  # a fine-tuning and a classifier in one job: leak_f1
    assert len(commands) == 2
    for command in commands:
        finetune, classify = re.findall(r"'((?:finetune|classify) [^']*)'", command)
        assert "--mode legacy " in finetune and "--init results/demo/pretrain/legacy/model.keras " in finetune
        assert "--subset all " in finetune and "/all.csv " in finetune
        assert "--classifier lstm_att --encoder-mode frozen " in classify and "--case a " in classify
        finetuned = re.search(r"--out (\S+)", finetune).group(1)
        assert f"--encoder {finetuned}/model.keras " in classify


def test_patience_in_gradient_steps_reaches_each_classifier(tmp_path):
    """classify.patience_steps for the attention classifiers, classify.baseline_patience_steps for the LSTM
    baseline and its learning-rate search; the random forest has no patience; the cap in steps for all."""
    override = tmp_path / "steps.yaml"
    override.write_text("classify:\n  patience_steps: 33\n  baseline_patience_steps: 444\n  max_steps: 5555\n")
    result, _ = dry_run("--configfile", "config/demo.yaml", str(override), "--printshellcmds")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    lines = [c for line in output.splitlines() for c in re.findall(r"'((?:classify|lr-search) [^']*)'", line)]
    lines += [line for line in output.splitlines() if line.startswith("Shell command: astromer lr-search ")]
    kinds = {"lstm": 444, "lr-search": 444, "lstm_att": 33, "mlp_att": 33}
    seen = set()
    for line in lines:
        if "--classifier rf " in line:
            assert "--patience" not in line
            continue
        kind = "lr-search" if "lr-search " in line else re.search(r"--classifier (\w+) ", line).group(1)
        assert f"--patience-steps {kinds[kind]} " in line and "--max-steps 5555" in line, line
        seen.add(kind)
    assert seen == set(kinds)
