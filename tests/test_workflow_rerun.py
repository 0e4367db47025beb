"""The workflow for real: change one survey's data and rerun. Every downstream model of that survey is trained
again from scratch (never resumed from the kept state of the old data); nothing of the other survey, and not
the pretraining, is touched. Checkpoints are kept (keep_checkpoints) so that a stale resume would be possible."""

import json

import pytest

from workflow_support import cannot_run, library_missing, snakemake, tiny_config

pytestmark = pytest.mark.slow
SURVEYS = ("ogle", "atlas")


def _models(results, survey):
    return [
        results / f"finetune/paper/{survey}/20/fold0/metrics.json",
        results / f"classify/paper/{survey}/20/fold0/mlp_att_a/metrics.json",
    ]


def test_changing_one_surveys_data_retrains_its_models_and_no_other(tmp_path):
    reason = library_missing()
    if reason:
        cannot_run(f"the rerun test needs the library: {reason}")
    config = tiny_config(
        tmp_path,
        surveys=list(SURVEYS),
        keep_checkpoints=True,
        batch_jobs=False,
        datasets={"atlas": {"source": "simulate", "profile": "atlas", "pool": "labeled", "per_class": 40}},
        splits={"subsets": [20]},
        classify={"classifiers": ["mlp_att"], "baselines": [], "cases": ["a"]},
    )
    results = tmp_path / "results"
    targets = [str(p) for s in SURVEYS for p in _models(results, s)]
    env = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = snakemake("--profile", "profiles/local", *targets, "--configfile", str(config), timeout=1200, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    pretrain = results / "pretrain/paper/metrics.json"
    before = {p: p.stat().st_mtime_ns for p in [pretrain, *(p for s in SURVEYS for p in _models(results, s))]}
    assert list((tmp_path / "resources/checkpoints").rglob("*state.npz"))  # kept: a stale resume is possible

    # new magnitudes for atlas, same ids: the store a user would replace
    from astromer.data.store import LightCurveStore

    store_path = tmp_path / "resources/stores/atlas_simulated"
    store = LightCurveStore.open(store_path)
    ids, offsets, time, mag, err = store.load_flat()
    LightCurveStore.write_flat(
        store_path,
        ids,
        offsets,
        time,
        mag + 0.3 * (mag - mag.mean()),
        err,
        store.metadata,
        {**store.provenance, "note": "changed by the rerun test"},
    )

    rerun = snakemake("--profile", "profiles/local", *targets, "--configfile", str(config), timeout=1200, env=env)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-5000:]
    for path in _models(results, "atlas"):
        assert path.stat().st_mtime_ns != before[path], f"{path} was not rebuilt"
        metrics = json.loads(path.read_text())
        assert metrics["resumed_from"] is None, path
    logs = tmp_path / "logs"
    for log in (logs / "finetune/paper/atlas/20/fold0.log", logs / "classify/paper/atlas/20/fold0/mlp_att_a.log"):
        text = log.read_text()
        assert "moved aside" in text and "training from scratch" in text and "resuming" not in text, text[-2000:]
        assert log.with_name(log.name + ".all").read_text().count("epoch    1/") == 2  # both runs, appended
    for path in [pretrain, *_models(results, "ogle")]:
        assert path.stat().st_mtime_ns == before[path], f"{path} was rebuilt although its inputs did not change"
