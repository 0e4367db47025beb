"""The workflow for real, end to end, on a tiny simulated config through profiles/local, then the
`snakemake --report` page. NEEDS THE LIBRARY: skipped (with the reason) until the `astromer data`,
`classify` and `figure` commands of the data and classification parts are installed."""

import json

import pytest

from workflow_support import PAPER_FILES, cannot_run, library_missing, snakemake, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    reason = library_missing()
    if reason:
        cannot_run(f"end-to-end run needs the library: {reason}")
    root = tmp_path_factory.mktemp("tiny")
    # batched as the demo runs (one `astromer batch` per survey/fold); the Slurm test runs one job per target
    config = tiny_config(root, batch_jobs=True, seed=5)  # a seed other than the default 0 must reach every job
    run = snakemake(
        "--profile",
        "profiles/local",
        "--configfile",
        str(config),
        timeout=1200,
        env={"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return root, config, run


def test_tiny_config_runs_end_to_end(tiny_run):
    root, _, run = tiny_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "steps (100%) done" in run.stderr  # the progress display
    results = root / "results"
    missing = [name for name in PAPER_FILES if not (results / name).is_file() or (results / name).stat().st_size == 0]
    assert missing == []


def test_results_record_config_and_seed(tiny_run):
    root, _, run = tiny_run
    assert run.returncode == 0
    metrics = sorted((root / "results").glob("**/metrics.json"))
    assert metrics, "no metrics.json written"
    for path in metrics:
        record = json.loads(path.read_text())
        assert record.get("seed") == 5, path
        assert "config" in record or "args" in record, path
        # the tiny config allows the CPU (no GPU here) and trains in float32
        assert (record.get("device"), record.get("precision")) == ("cpu", "float32"), path


def test_report_is_built(tiny_run):
    root, config, run = tiny_run
    assert run.returncode == 0
    report = root / "report.html"
    result = snakemake("--configfile", str(config), "--report", str(report), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    html = report.read_text(errors="replace")
    for name in ("fig11.pdf", "fig8.pdf", "table5.csv", "claims_table.csv"):
        assert name in html, name
