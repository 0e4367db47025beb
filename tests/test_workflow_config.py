"""A config typo fails at once, with the schema's own message naming the key."""
import time

import pytest

from workflow_support import snakemake


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


def test_defaults_fill_an_empty_config(tmp_path):
    # every key has a default: a config file naming nothing new still validates (the paper's values)
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    result = snakemake("-n", "--nolock", "--configfile", str(empty), "--quiet", "rules", timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_local_gpu_jobs_are_limited_to_the_gpus_present(tmp_path):
    """profiles/local: the `gpu` resource is capped at the GPUs the machine shows (here: CUDA_VISIBLE_DEVICES),
    so two jobs never share a GPU by accident; --resources overrides; without GPUs nothing is limited."""
    from workflow_support import snakemake, tiny_config

    config = tiny_config(tmp_path)
    target = str(tmp_path / "results" / "model_config.json")

    def provided(*extra, env):
        run = snakemake("--profile", "profiles/local", target, "--forceall", *extra, "--configfile", str(config), env=env)
        assert run.returncode == 0, run.stderr[-2000:]
        return [line for line in run.stderr.splitlines() if line.startswith("Provided")]

    assert 'Provided resources: gpu=Resource("gpu", 3)' in provided(env={"CUDA_VISIBLE_DEVICES": "0,1,2"})
    assert not [line for line in provided(env={"CUDA_VISIBLE_DEVICES": ""}) if "gpu" in line]
    mine = [line for line in provided("--resources", "gpu=1", env={"CUDA_VISIBLE_DEVICES": "0,1,2"}) if "gpu" in line]
    assert mine and "3" not in mine[0], mine
