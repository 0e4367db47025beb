"""The real workflow run end to end with a TEST STAND-IN for `astromer` (tests/contract_astromer.py):
it parses exactly the CLI contract the rules are wired to and writes placeholders where the contract
says the real commands write. So every rule's command line, declared outputs, report captions and the
`--report` page are tested now, independently of the library (test_workflow_e2e.py does it for real)."""

import json

import pytest

from workflow_support import PAPER_FILES, contract_stand_in, snakemake, tiny_config


@pytest.fixture(scope="module")
def stand_in_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    config = tiny_config(root, seed=7)  # not the default 0: the seed must come from the config
    bin_dir = contract_stand_in(root / "bin")
    run = snakemake("--profile", "profiles/local", "--configfile", str(config), timeout=600, first_on_path=bin_dir)
    return root, config, bin_dir, run


def test_every_rule_command_matches_the_cli_contract(stand_in_run):
    root, _, _, run = stand_in_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "steps (100%) done" in run.stderr  # the progress display
    missing = [name for name in PAPER_FILES if not (root / "results" / name).is_file()]
    assert missing == []
    # every rule left its log, and the resume checkpoints live outside the results
    assert list((root / "logs").glob("**/*.log"))
    assert (root / "resources/checkpoints/pretrain/paper").is_dir()
    assert not list((root / "results").glob("**/checkpoints"))


def test_seed_reaches_every_training_job(stand_in_run):
    root, _, _, run = stand_in_run
    assert run.returncode == 0
    records = [json.loads(p.read_text()) for p in (root / "results").glob("**/metrics.json")]
    # pretrain + 2 fine-tunings + 12 classifier jobs + 2 x (lstm, rf) baselines
    assert len(records) == 1 + 2 + 12 + 4
    assert [r["seed"] for r in records] == [7] * len(records)


def test_batched_jobs_run_the_same_commands_into_the_same_files(stand_in_run, tmp_path):
    """batch_jobs runs the fine-tunings, classifiers and baselines of a cell as one `astromer batch` job
    each: fewer jobs, the very same files and the same arguments (the stand-in records them)."""
    root, _, bin_dir, run = stand_in_run
    assert run.returncode == 0
    batched_root = tmp_path / "batched"
    config = tiny_config(batched_root, batch_jobs=True, seed=7)  # the same settings as stand_in_run's
    batched = snakemake("--profile", "profiles/local", "--configfile", str(config), timeout=600, first_on_path=bin_dir)
    assert batched.returncode == 0, batched.stdout[-3000:] + batched.stderr[-5000:]

    def records(base):
        out = {}
        for path in (base / "results").glob("**/metrics.json"):
            args = json.loads(path.read_text())["config"]
            out[str(path.relative_to(base))] = {k: str(v).replace(str(base), "ROOT") for k, v in args.items()}
        return out

    assert records(batched_root) == records(root)
    jobs = lambda r: int(r.stderr.rsplit(" of ", 1)[1].split()[0])  # "... N of M steps (100%) done"
    # tiny config: 2 fine-tunings -> 1 batch, 12 classifier runs -> 2 batches, 4 baselines -> 1 batch
    assert jobs(run) - jobs(batched) == (2 - 1) + (12 - 2) + (4 - 1)


def test_report_page_holds_every_figure_and_table(stand_in_run):
    root, config, bin_dir, run = stand_in_run
    assert run.returncode == 0
    report = root / "report.html"
    result = snakemake("--configfile", str(config), "--report", str(report), timeout=600, first_on_path=bin_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    html = report.read_text(errors="replace")
    for name in PAPER_FILES:
        assert name in html, name


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_changing_one_survey_reruns_only_its_jobs(tmp_path):
    """After a complete run of two surveys, a change to OGLE's data reruns OGLE's jobs and the figures
    that aggregate over surveys -- nothing of ATLAS, nothing of pretraining (a dry run shows it)."""
    import yaml

    from workflow_support import job_blocks

    two = {
        "surveys": ["ogle", "atlas"],
        "datasets": {
            "macho": {"source": "simulate", "profile": "macho", "pool": "unlabeled", "n_objects": 300},
            "ogle": {"source": "simulate", "profile": "ogle", "pool": "labeled", "per_class": 50},
            "atlas": {"source": "simulate", "profile": "atlas", "pool": "labeled", "per_class": 50},
        },
    }
    config = tiny_config(tmp_path, **two)
    bin_dir = contract_stand_in(tmp_path / "bin")
    first = snakemake("--profile", "profiles/local", "--configfile", str(config), timeout=600, first_on_path=bin_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    nothing = snakemake("-n", "--configfile", str(config), first_on_path=bin_dir)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr

    changed = yaml.safe_load(config.read_text())
    changed["datasets"]["ogle"]["per_class"] = 60
    config.write_text(yaml.safe_dump(changed))
    dry = snakemake("-n", "--configfile", str(config), first_on_path=bin_dir)
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = job_blocks(dry.stdout + dry.stderr)
    rules = {job["rule"] for job in jobs}
    assert {"simulate", "finetune", "classify"} <= rules and "pretrain" not in rules, sorted(rules)
    for job in jobs:
        output = job.get("output", "")
        assert "atlas" not in output, job
        per_survey = "wildcards" in job and ("survey=" in job["wildcards"] or "dataset=" in job["wildcards"])
        if per_survey:
            assert "ogle" in job["wildcards"], job
