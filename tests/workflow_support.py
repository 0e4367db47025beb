"""Helpers of the workflow tests: run Snakemake on the repository's Snakefile and read its dry runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# the paper's design (Sect. 6-7, Fig. 10): what the paper DAG must contain
PAPER_SURVEYS = ["alcock", "ogle", "atlas"]
PAPER_SUBSETS = ["20", "50", "100", "500", "all"]
PAPER_FOLDS = 3
PAPER_CLASSIFIERS = ["lstm_att", "mlp_att"]
PAPER_CASES = {"a": "frozen", "b": "trained", "c": "trained"}


SLURM_CLIENTS = {"sinfo", "squeue", "sacct", "scontrol", "sbatch", "srun", "scancel", "sacctmgr", "sshare"}


def path_without_slurm(path: str) -> str:
    """PATH with Slurm's client tools hidden (a folder of links to everything else on PATH).

    The Slurm plugin runs `scontrol show config` when Snakemake starts (to build its --help); where
    Slurm is installed but its controller is down (e.g. after the Slurm test stopped it) that waits
    ~9 s for a dead controller on every Snakemake start. Dry runs, lint and config checks need no
    Slurm, so they run without it and their timings are Snakemake's own."""
    folder = Path(tempfile.gettempdir()) / f"astromer-path-without-slurm-{os.getuid()}"
    if not folder.is_dir():
        staging = Path(tempfile.mkdtemp(dir=tempfile.gettempdir()))
        for directory in reversed(path.split(os.pathsep)):
            if not directory or not os.path.isdir(directory):
                continue
            for entry in os.scandir(directory):
                if entry.name in SLURM_CLIENTS or not os.access(entry.path, os.X_OK):
                    continue
                link = staging / entry.name
                if link.is_symlink():
                    link.unlink()  # earlier PATH entries win
                link.symlink_to(entry.path)
        try:
            staging.rename(folder)
        except OSError:  # made meanwhile by another test process
            shutil.rmtree(staging, ignore_errors=True)
    return str(folder)


def snakemake(
    *args: str,
    cwd: Path = REPO,
    timeout: float = 120,
    env: dict | None = None,
    slurm_tools: bool = False,
    first_on_path: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run `python -m snakemake ARGS` (text output, never raising on a non-zero exit)."""
    full_env = dict(os.environ, **(env or {}))
    path = full_env.get("PATH", "")
    if not slurm_tools:
        path = path_without_slurm(path)
    # the rules call `astromer`: find it next to this interpreter even when the venv is not activated
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{path}"
    if first_on_path:
        full_env["PATH"] = f"{first_on_path}{os.pathsep}{full_env['PATH']}"
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def dry_run(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    """A dry run of every job (--forceall), and how long it took."""
    began = time.perf_counter()
    result = snakemake("-n", "--forceall", "--nolock", *args)
    return result, time.perf_counter() - began


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: {rule: count}."""
    counts = {}
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^job\s+count", line))
    for line in lines[start + 2 :]:
        parts = line.split()
        if len(parts) < 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def job_blocks(output: str) -> list[dict[str, str]]:
    """Every job of a dry run as {'rule', 'output', 'wildcards', 'resources', 'log'}."""
    jobs, current = [], None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if m:
            current = {"rule": m.group(1)}
            jobs.append(current)
            continue
        m = re.match(r"^\s+(output|wildcards|resources|log|input): (.*)$", line)
        if current is not None and m:
            current[m.group(1)] = m.group(2)
    return jobs


def cannot_run(reason: str):
    """An end-to-end test that cannot run here: skipped on a developer's machine, a failure in CI (CI=true),
    where a skipped end-to-end test would let a broken workflow land."""
    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run this end-to-end test, but: {reason}")
    pytest.skip(reason)


def library_missing() -> str | None:
    """Why the end-to-end runs cannot work yet: the astromer commands they call are not all there."""
    exe = shutil.which("astromer") or (str(Path(sys.executable).parent / "astromer"))
    if not Path(exe).exists():
        return "the `astromer` command is not installed"
    for command in (["data", "simulate"], ["data", "split-labeled"], ["classify"], ["figure"]):
        probe = subprocess.run([exe, *command, "--help"], capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            return f"`astromer {' '.join(command)}` is not available yet (its library part has not landed)"
    return None


def tiny_config(root: Path, **overrides) -> Path:
    """A config for real end-to-end runs in a few minutes on 2 cores: one simulated survey, one fold,
    a tiny encoder, two epochs, float32 on the CPU on purpose (allow_cpu); every output under ROOT (pathvars).
    Returns the YAML file."""
    import yaml

    config = {
        "pathvars": {name: str(root / name) for name in ("results", "resources", "logs", "benchmarks")},
        "simulated": True,
        "seed": 0,
        "allow_cpu": True,  # no GPU here (the local Slurm's GPUs are fake): train on the CPU on purpose
        "surveys": ["ogle"],
        "datasets": {
            "macho": {"source": "simulate", "profile": "macho", "pool": "unlabeled", "n_objects": 300},
            "ogle": {"source": "simulate", "profile": "ogle", "pool": "labeled", "per_class": 50},
        },
        "splits": {"folds": 1, "test_per_class": 10, "subsets": [20, "all"], "val_fraction": 0.2},
        "model": {"max_obs": 50, "num_layers": 1, "num_heads": 2, "d_model": 16, "dff": 16, "dropout": 0.1},
        "pretrain": {
            "precision": "float32",
            "epochs": 2,
            "patience": 2,
            "batch_size": 64,
            "windows_per_epoch": "one",
            "runtime": 10,
            "mem_mb": 1500,
            "cpus_per_gpu": 1,
        },
        "finetune": {
            "precision": "float32",
            "epochs": 2,
            "patience": 2,
            "batch_size": 32,
            "windows_per_epoch": "one",
            "runtime": 10,
            "mem_mb": 1500,
            "cpus_per_gpu": 1,
        },
        "classify": {
            "classifiers": ["lstm_att", "mlp_att"],
            "baselines": ["lstm", "rf"],
            "cases": ["a", "b", "c"],
            "precision": "float32",
            "epochs": 2,
            "patience": 2,
            "batch_size": 32,
            "runtime": 10,
            "mem_mb": 1500,
            "cpus_per_gpu": 1,
        },
        "lr_search": {"subset": 20, "survey": "ogle", "lrs": [0.001, 0.0001]},
        "figures": {"fig12_subset": 20},
        # small stores: the paper's data_resources (up to 128 GB) would not fit the local Slurm's node
        "data_resources": {
            stage: {"mem_mb": 1000, "runtime": 10}
            for stage in ("download", "ingest", "simulate", "filter", "columns", "split", "tables", "figures")
        },
        # the published weights from ../shared (never downloaded in tests); absent: "weights not available"
        "leak": {"f1_subset": 20, "published_weights": str(REPO.parent / "shared" / "data" / "astromer_macho_v0")},
    }
    for key, value in overrides.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    path = root / "tiny.yaml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


TINY_TARGETS_PER_SURVEY = ["fig9_ogle.pdf", "fig11_ogle.pdf", "fig12_ogle.pdf", "figC1_ogle.pdf"]


def contract_stand_in(folder: Path) -> Path:
    """A folder holding an `astromer` executable that is tests/contract_astromer.py (test-only stand-in)."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "astromer"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO / "tests/contract_astromer.py"}" "$@"\n')
    exe.chmod(0o755)
    return folder


# the tiny config's one labeled survey is ogle: Table 2 (its classes), 3 (surveys) and 5; no Tables 1 and 4
PAPER_FILES = (
    [f"table{n}.{ext}" for n in (2, 3, 5) for ext in ("csv", "tex")]
    + [f"{fig}.pdf" for fig in ("fig2", "fig6", "fig8", "fig9", "fig11", "fig12", "figA1", "figB1", "figC1", "figD1")]
    + ["accuracy_table.csv", "claims_table.csv", "leak_table.csv", "leak_table.tex", "fig_leak.pdf"]
    + TINY_TARGETS_PER_SURVEY
)
