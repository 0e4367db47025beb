"""The Slurm profile against a real Slurm on localhost (.ci/slurm-up.sh: slurmctld + slurmd + munged,
two fake A100 GPUs). Skipped only when this is not root or Slurm is missing and apt-get unavailable.

- test_infrastructure_*: a tiny Snakefile (tests/slurm_wf) through profiles/slurm: GPU jobs reach Slurm
  with a GPU request it records, and a job killed at its 1-minute time limit is resubmitted and resumes
  from its checkpoint. Runs now.
- test_workflow_*: the real workflow on a tiny simulated config through profiles/slurm. NEEDS THE
  LIBRARY (skipped with the reason until the astromer commands are installed)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from workflow_support import REPO, cannot_run, contract_stand_in, library_missing, tiny_config

pytestmark = pytest.mark.slow

GPU_RULES = {"pretrain", "finetune", "classify", "baseline_lstm", "lr_search"}
# CI overrides of profiles/slurm: poll Slurm after 2 s instead of 40, keep the job logs for the asserts
CI_OVERRIDES = ["--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs"]


def _why_no_slurm():
    if os.geteuid() != 0:
        return "needs root: installs and starts munged, slurmctld and slurmd"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "Slurm is not installed and apt-get is unavailable to install it"
    return None


@pytest.fixture(scope="module")
def slurm():
    reason = _why_no_slurm()
    if reason:
        cannot_run(reason)
    up = subprocess.run(["bash", str(REPO / ".ci/slurm-up.sh")], capture_output=True, text=True, timeout=900)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield
    finally:
        subprocess.run(["bash", str(REPO / ".ci/slurm-down.sh")], capture_output=True, text=True, timeout=120)


def run_through_profile(*args, seconds=600, first_on_path=None):
    """snakemake --profile profiles/slurm ARGS, wrapped in `timeout -s INT` (SIGTERM is ignored while jobs run)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if first_on_path:
        path = f"{first_on_path}{os.pathsep}{path}"
    env = dict(os.environ, PATH=path, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
    command = [
        "timeout",
        "-s",
        "INT",
        "-k",
        "30",
        str(seconds),
        sys.executable,
        "-m",
        "snakemake",
        "--profile",
        str(REPO / "profiles/slurm"),
        *CI_OVERRIDES,
        *args,
    ]
    # output to files, not pipes: two runs side by side must never block on a full pipe
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err, text=True, env=env)
    process.captured = (out, err)
    return process


def finished(process):
    process.wait()
    texts = []
    for stream in process.captured:
        stream.seek(0)
        texts.append(stream.read())
        stream.close()
    return subprocess.CompletedProcess(process.args, process.returncode, *texts)


def slurm_jobs(run_output):
    """{slurm job id: scontrol fields} of every job the run submitted (MinJobAge keeps them visible)."""
    jobs = {}
    for job_id in sorted(set(re.findall(r"submitted with SLURM jobid (\d+)", run_output)), key=int):
        shown = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        fields = dict(kv.split("=", 1) for kv in shown.stdout.split() if "=" in kv)
        fields["rule"] = fields.get("Comment", "").removeprefix("rule_").split("_wildcards")[0]
        jobs[job_id] = fields
    return jobs


def gpu_request(fields):
    return fields.get("TresPerJob", "") + fields.get("TresPerNode", "")


# ---------------------------------------------------------------- infrastructure (runs now)
@pytest.fixture(scope="module")
def now_runs(slurm, tmp_path_factory):
    """Both runs that need no library, side by side (the time-limit test waits on Slurm for ~2 min):
    the tiny Snakefile, and the real workflow with the test stand-in for `astromer`."""
    work = tmp_path_factory.mktemp("slurm_wf")
    tiny = run_through_profile(
        "--snakefile", str(REPO / "tests/slurm_wf/Snakefile"), "--directory", str(work), seconds=480
    )
    root = tmp_path_factory.mktemp("slurm_contract")
    config = tiny_config(root, classify={"classifiers": ["mlp_att"], "cases": ["a", "c"], "baselines": ["lstm"]})
    bin_dir = contract_stand_in(root / "bin")
    targets = [str(root / "results/fig11_ogle.pdf"), str(root / "results/figD1.pdf")]
    real = run_through_profile(*targets, "--configfile", str(config), seconds=480, first_on_path=bin_dir)
    tiny, real = finished(tiny), finished(real)
    return {
        "tiny": (work, tiny, slurm_jobs(tiny.stdout + tiny.stderr)),
        "stand_in": (root, real, slurm_jobs(real.stdout + real.stderr)),
    }


@pytest.fixture(scope="module")
def tiny_slurm_run(now_runs):
    return now_runs["tiny"]


def test_infrastructure_gpu_jobs_carry_a_gpu_request(tiny_slurm_run):
    work, run, jobs = tiny_slurm_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    by_rule = {}
    for fields in jobs.values():
        by_rule.setdefault(fields["rule"], []).append(fields)
    assert set(by_rule) == {"prep", "gpu", "resumable"}, by_rule.keys()
    for rule in ("gpu", "resumable"):
        for fields in by_rule[rule]:
            assert "gres:gpu:a100:1" in gpu_request(fields), fields
    assert "gpu" not in gpu_request(by_rule["prep"][0])
    assert "CUDA_VISIBLE_DEVICES=unset" not in (work / "out/gpu.txt").read_text()  # Slurm bound a (fake) GPU


def test_infrastructure_timed_out_job_resumes(tiny_slurm_run):
    work, run, jobs = tiny_slurm_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    attempts = [f for f in jobs.values() if f["rule"] == "resumable"]
    assert [f["JobState"] for f in attempts] == ["TIMEOUT", "COMPLETED"], attempts
    starts = (work / "ckpt/resumable/attempts").read_text().split("\n")
    steps = [int(m) for m in re.findall(r"step=(\d+)", "\n".join(starts))]
    assert len(steps) == 2 and steps[0] == 0 and steps[1] > 0, starts  # resumed, not restarted
    assert "after step 90" in (work / "out/resumable.txt").read_text()


# ---------------------------------------------------------------- the real workflow, stand-in commands (runs now)
def test_workflow_with_stand_in_submits_gpu_rules_with_gpu(now_runs):
    """The real Snakefile and profile; `astromer` is the test stand-in tests/contract_astromer.py."""
    root, run, jobs = now_runs["stand_in"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    rules = [f["rule"] for f in jobs.values()]
    assert GPU_RULES <= set(rules), rules
    assert rules.count("classify") == 4 and rules.count("finetune") == 2
    for fields in jobs.values():
        if fields["rule"] in GPU_RULES:
            assert "gres:gpu:a100:1" in gpu_request(fields), fields
            assert fields["TimeLimit"] == "00:10:00", fields  # the config's runtime reached sbatch -t
        else:
            assert "gpu" not in gpu_request(fields), fields
    assert "model_config" not in rules  # a local rule
    assert (root / "results/fig11_ogle.pdf").is_file()


# ---------------------------------------------------------------- the real workflow (needs the library)
@pytest.fixture(scope="module")
def workflow_slurm_run(slurm, tmp_path_factory):
    reason = library_missing()
    if reason:
        cannot_run(f"the real workflow on Slurm needs the library: {reason}")
    root = tmp_path_factory.mktemp("tiny_slurm")
    # 12 pretraining epochs (a few seconds): enough to time an epoch on this node for the time-limit test
    config = tiny_config(root, pretrain={"epochs": 12, "patience": 12})
    run = finished(run_through_profile("--configfile", str(config), seconds=1500))
    return root, config, run, slurm_jobs(run.stdout + run.stderr)


def test_workflow_gpu_rules_submitted_with_gpu(workflow_slurm_run):
    root, _, run, jobs = workflow_slurm_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    rules = {f["rule"] for f in jobs.values()}
    assert GPU_RULES <= rules, rules
    for fields in jobs.values():
        if fields["rule"] in GPU_RULES:
            assert "gres:gpu:a100:1" in gpu_request(fields), fields
        else:
            assert "gpu" not in gpu_request(fields), fields
    assert (root / "results/fig11.pdf").is_file()


def test_workflow_pretraining_killed_at_time_limit_resumes(workflow_slurm_run):
    """The real pretraining rule killed by Slurm at a 1-minute limit leaves its resume state; run again (as a
    retry does: profiles/slurm has retries: 3), it resumes from that state instead of restarting. Two runs
    rather than one with retries, so that how fast this machine trains cannot decide the outcome."""
    root, config, run, _ = workflow_slurm_run
    assert run.returncode == 0
    # ~200 s of epochs, timed on this node from the first run: an epoch is its median training + validation
    # time (the first epoch traces the graph) plus its share of the resume-state writes. Slurm kills at
    # 60-90 s after ~15 s of start-up, so the first run times out unless the node is 2.5x faster than timed.
    first = json.loads((root / "results/pretrain/paper/metrics.json").read_text())
    seconds = [
        float(line.split(",")[3]) for line in (root / "results/pretrain/paper/history.csv").read_text().splitlines()[2:]
    ]
    per_epoch = max(float(np.median(seconds)) + first["checkpoint_seconds"] / first["epochs"], 0.01)
    epochs = max(3, int(200 / per_epoch))
    shutil.rmtree(root / "resources/checkpoints/pretrain")
    shutil.rmtree(root / "results/pretrain")
    state = root / "resources/checkpoints/pretrain/paper/state.npz"

    def pretrain(runtime: int, *extra: str, seconds: int):
        # a config file, not --config: Snakemake reads nested --config values as strings
        settings = root / f"pretraining_{runtime}min.yaml"
        settings.write_text(f"pretrain:\n  epochs: {epochs}\n  patience: {epochs}\n  runtime: {runtime}\n")
        done = finished(
            run_through_profile(
                str(root / "results/pretrain/paper/metrics.json"),
                "--configfile",
                str(config),
                str(settings),
                *extra,
                seconds=seconds,
            )
        )
        return done, [f for f in slurm_jobs(done.stdout + done.stderr).values() if f["rule"] == "pretrain"]

    killed, attempts = pretrain(1, "--retries", "0", seconds=300)
    assert killed.returncode != 0 and [f["JobState"] for f in attempts] == ["TIMEOUT"], attempts
    assert state.is_file(), "the killed job left no resume state"
    # the time limit (runtime) is a resource, not a setting of the run: the state is the same run's
    again, attempts = pretrain(15, seconds=1200)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-5000:]
    assert [f["JobState"] for f in attempts] == ["COMPLETED"], attempts
    metrics = json.loads((root / "results/pretrain/paper/metrics.json").read_text())
    assert metrics.get("resumed_from") and metrics["resumed_from"] >= 1, metrics  # resumed, not restarted
    assert metrics["epochs"] == epochs, metrics
