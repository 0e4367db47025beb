"""A config typo fails at once, with the schema's own message naming the key."""

import re
import shutil
import time

import pytest
import yaml

from workflow_support import REPO, snakemake


def _fails_fast(*args):
    began = time.perf_counter()
    result = snakemake("-n", "--nolock", *args, timeout=60)
    seconds = time.perf_counter() - began
    assert result.returncode != 0, "the typo was accepted"
    assert seconds < 10, f"took {seconds:.1f} s to fail"
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    "override, message",
    [
        ("sead=1", "Additional properties are not allowed ('sead' was unexpected)"),
        ("seed=zero", "'zero' is not of type 'integer'"),
        ("surveys=[kepler]", "'kepler' is not one of ['alcock', 'ogle', 'atlas']"),
        ("classify={classifiers: [lstm_att, transformer]}", "'transformer' is not one of ['lstm_att', 'mlp_att']"),
    ],
)
@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_command_line_typo_fails_with_schema_message(override, message):
    output = _fails_fast("--config", override)
    assert message in output, output[-2000:]


def test_nested_typo_in_a_config_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("finetune:\n  epoch: 3\n")  # 'epochs' misspelt
    output = _fails_fast("--configfile", str(bad))
    assert "Additional properties are not allowed ('epoch' was unexpected)" in output, output[-2000:]


def test_cross_key_error_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr_search:\n  subset: 30\n")  # a valid number, but no such subset
    output = _fails_fast("--configfile", str(bad))
    assert "lr_search.subset=30 is not one of splits.subsets" in output, output[-2000:]


def _validated(config: dict) -> dict:
    from snakemake.utils import validate

    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"), set_default=True)
    return config


def test_schema_defaults_are_the_paper_config():
    """The schema's defaults alone (no config/config.yaml under them) are the paper's settings: config.yaml
    states nothing the defaults do not, so a config may leave out any key and the two cannot drift apart."""
    paper = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert _validated({}) == _validated(paper)
    assert _validated({})["pretrain"]["batch_size"] == 5000  # a paper value the shared training defaults lack


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_the_workflow_runs_on_schema_defaults_alone(tmp_path):
    """A checkout whose config/config.yaml is empty builds the same paper DAG as the real one."""
    for name in ("Snakefile", "workflow", "config"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, tmp_path / name)
    (tmp_path / "config/config.yaml").write_text("{}\n")
    jobs = []
    for checkout in (REPO, tmp_path):
        run = snakemake("-n", "--forceall", "--nolock", "--quiet", "rules", cwd=checkout, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        jobs.append(re.search(r"^total\s+(\d+)", run.stdout + run.stderr, re.M).group(1))
    assert int(jobs[0]) > 100 and jobs[0] == jobs[1], jobs


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_local_gpu_jobs_are_limited_to_the_gpus_present(tmp_path):
    """profiles/local: the `gpu` resource is capped at the GPUs the machine shows (here: CUDA_VISIBLE_DEVICES),
    so two jobs never share a GPU by accident; --resources overrides; without GPUs nothing is limited."""
    from workflow_support import snakemake, tiny_config

    config = tiny_config(tmp_path)
    target = str(tmp_path / "results" / "model_config.json")

    def provided(*extra, env):
        run = snakemake(
            "--profile", "profiles/local", target, "--forceall", *extra, "--configfile", str(config), env=env
        )
        assert run.returncode == 0, run.stderr[-2000:]
        return [line for line in run.stderr.splitlines() if line.startswith("Provided")]

    assert 'Provided resources: gpu=Resource("gpu", 3)' in provided(env={"CUDA_VISIBLE_DEVICES": "0,1,2"})
    assert not [line for line in provided(env={"CUDA_VISIBLE_DEVICES": ""}) if "gpu" in line]
    mine = [line for line in provided("--resources", "gpu=1", env={"CUDA_VISIBLE_DEVICES": "0,1,2"}) if "gpu" in line]
    assert mine and "3" not in mine[0], mine
