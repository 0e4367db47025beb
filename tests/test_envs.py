"""envs/*.yaml pin exactly the versions pyproject.toml pins (the conda envs of the rules), and no install
(pyproject with any extras, or an env file) can put two TensorFlow distributions side by side."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# run by Snakemake itself (outside the jobs' envs) or only for tests: not needed inside a rule's env
NOT_IN_RULE_ENVS = {"snakemake", "snakemake-executor-plugin-slurm", "pytest"}
# PyPI distributions that each install the `tensorflow` import package: two of them in one environment
# overwrite each other's files (e.g. tensorflow-cpu under tensorflow[and-cuda]: a CPU-only build may win)
TENSORFLOW_DISTRIBUTIONS = {
    "tensorflow",
    "tensorflow-cpu",
    "tensorflow-gpu",
    "tensorflow-intel",
    "tensorflow-macos",
    "tensorflow-aarch64",
    "tensorflow-cpu-aws",
    "intel-tensorflow",
    "tf-nightly",
    "tf-nightly-cpu",
    "tf-nightly-gpu",
}


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


@pytest.mark.parametrize("env_file, tensorflow", [("envs/cpu.yaml", "tensorflow"), ("envs/cuda.yaml", "tensorflow")])
def test_env_pins_equal_pyproject(env_file, tensorflow):
    core, extras = _pyproject()
    pins, env = _env_pins(REPO / env_file)
    allowed = {}  # name -> the requirement strings pyproject gives it (tensorflow: base and [and-cuda])
    for pinned in (core, *extras.values()):
        for k, v in pinned.items():
            allowed.setdefault(k, set()).add(v.replace(" ", ""))
    for name, req in pins.items():
        assert name in allowed, f"{env_file}: {req} is not in pyproject.toml"
        assert req.replace(" ", "") in allowed[name], f"{env_file}: {req} is not pyproject's {sorted(allowed[name])}"
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


def _tensorflows(pins: dict[str, str]) -> set[str]:
    return set(pins) & TENSORFLOW_DISTRIBUTIONS


def test_one_tensorflow_distribution_whatever_the_extras():
    """`pip install -e '.[gpu,download,test]'` (any extras together) resolves to one TensorFlow distribution,
    the one the base install already has: the gpu extra adds CUDA wheels to it, not a second TensorFlow."""
    core, extras = _pyproject()
    base = _tensorflows(core)
    assert len(base) == 1, f"pyproject.toml dependencies name {sorted(base) or 'no'} TensorFlow distribution(s)"
    everything = set(base)
    for name, pins in extras.items():
        assert _tensorflows(pins) <= base, f"extra [{name}] adds {sorted(_tensorflows(pins) - base)} beside {base}"
        everything |= _tensorflows(pins)
    assert everything == base
    (tf,) = base
    assert tf == "tensorflow", f"{tf} has no [and-cuda] extra: the base install must run on CPUs and GPUs alike"
    assert (
        extras["gpu"]["tensorflow"].replace(" ", "") == "tensorflow[and-cuda]" + core["tensorflow"][len("tensorflow") :]
    )


@pytest.mark.parametrize("env_file", ["envs/cpu.yaml", "envs/cuda.yaml"])
def test_env_has_one_tensorflow_distribution(env_file):
    pins, _ = _env_pins(REPO / env_file)
    assert len(_tensorflows(pins)) == 1, f"{env_file}: {sorted(_tensorflows(pins))}"


def test_every_rule_names_an_existing_env():
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert (smk.parent / env).resolve().is_file(), f"{smk.name}: {env}"


def _installed_extras(line: str) -> set[str]:
    """The extras of `pip install ... -e '.[a,b]'` in a command line (empty for `-e .`)."""
    found = re.search(r"pip install (?:-q )?-e '?\.(?:\[([^\]]*)\])?'?", line)
    assert found, f"no editable install in: {line}"
    return {e.strip() for e in (found.group(1) or "").split(",") if e.strip()}


def test_the_library_installs_without_snakemake_and_the_readme_installs_everything():
    """Snakemake and its Slurm plugin are the `workflow` extra: the library needs neither (none of its
    modules imports them), while the README's two commands and .ci/run install them."""
    core, extras = _pyproject()
    assert not [n for n in core if n.startswith("snakemake")], sorted(core)
    assert {"snakemake", "snakemake-executor-plugin-slurm"} <= set(extras["workflow"])
    for module in (REPO / "src").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+snakemake", module.read_text(), re.M), module
    readme = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("python3.11 -m venv")]
    demo = next(line for line in readme if "snakemake --profile profiles/local" in line)
    tests = next(line for line in readme if "pytest" in line)
    ci = next(line for line in (REPO / ".ci/run").read_text().splitlines() if "pip install" in line)
    assert "workflow" in _installed_extras(demo)
    assert {"workflow", "test"} <= _installed_extras(tests)
    assert _installed_extras(ci) == _installed_extras(tests)  # CI runs exactly the README's test command
