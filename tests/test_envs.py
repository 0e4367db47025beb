"""envs/*.yaml pin exactly the versions pyproject.toml pins (the conda envs of the rules)."""
import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# run by Snakemake itself (outside the jobs' envs) or only for tests: not needed inside a rule's env
NOT_IN_RULE_ENVS = {"snakemake", "snakemake-executor-plugin-slurm", "pytest"}


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(requirements) -> dict[str, str]:
    pins = {}
    for req in requirements:
        assert "==" in req, f"not pinned: {req}"
        pins[_name(req)] = req
    return pins


def _pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return _pins(project["dependencies"]), {k: _pins(v) for k, v in project["optional-dependencies"].items()}


def _env_pins(path: Path) -> tuple[dict[str, str], dict]:
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return _pins(r for r in pip if not r.startswith("-e")), env


@pytest.mark.parametrize("env_file, tensorflow", [("envs/cpu.yaml", "tensorflow-cpu"), ("envs/cuda.yaml", "tensorflow")])
def test_env_pins_equal_pyproject(env_file, tensorflow):
    core, extras = _pyproject()
    pins, env = _env_pins(REPO / env_file)
    allowed = {**core, **{k: v for extra in extras.values() for k, v in extra.items()}}
    for name, req in pins.items():
        assert name in allowed, f"{env_file}: {req} is not in pyproject.toml"
        assert req.replace(" ", "") == allowed[name].replace(" ", ""), f"{env_file}: {req} != pyproject's {allowed[name]}"
    needed = {n for n in core if n not in NOT_IN_RULE_ENVS and not n.startswith("tensorflow")} | {tensorflow}
    missing = needed - set(pins)
    assert not missing, f"{env_file} lacks {sorted(missing)}"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == "python=3.11", python  # requires-python = ">=3.11,<3.12"


def test_cuda_env_uses_the_gpu_extra():
    _, extras = _pyproject()
    pins, _ = _env_pins(REPO / "envs/cuda.yaml")
    assert pins["tensorflow"] == extras["gpu"]["tensorflow"]
    assert "tensorflow-cpu" not in pins


def test_every_rule_names_an_existing_env():
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / env).resolve().is_file(), f"{smk.name}: {env}"
