"""The package's layers (docs/architecture.md): core <- data <- experiments <- cli, each importing only the
layers below it; astromer.errors, astromer.io and astromer.download are shared by all. The model (core) never
imports pandas, matplotlib or argparse. Imports are read from the source (ast), lazy ones inside functions
included, so a violation cannot hide in a function body."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = ("core", "data", "experiments", "cli")  # lowest first
FORBIDDEN_IN_CORE = ("pandas", "matplotlib", "argparse")


def layer_of(module: str) -> str | None:
    """'astromer.data.splits' -> 'data'; None for astromer itself and the shared modules."""
    parts = module.split(".")
    if parts[0] != "astromer" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, relative ones resolved from ``module``;
    ``from X import name`` yields X.name too, since the name may be a module."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What ``source`` (the text of ``module``) imports against the layering, one line each."""
    own = layer_of(module)
    if own is None:
        return []
    bad = []
    for line, target in imported_modules(source, module, is_package):
        other = layer_of(target)
        if other is not None and LAYERS.index(other) > LAYERS.index(own):
            bad.append(f"{module}:{line} imports {target} (layer {own} may not import {other})")
        if own == "core" and target.split(".")[0] in FORBIDDEN_IN_CORE:
            bad.append(f"{module}:{line} imports {target} (the core model has no {target.split('.')[0]})")
    return bad


def all_modules():
    return sorted((SRC / "astromer").rglob("*.py"))


def test_every_layer_imports_only_the_layers_below_it():
    assert len(all_modules()) > 20  # the package is there: the walk does not pass on an empty tree
    bad = []
    for path in all_modules():
        bad += violations(path.read_text(), module_name(path), path.name == "__init__.py")
    assert not bad, "\n".join(bad)


def test_every_module_sits_in_a_layer_or_is_shared():
    shared = {
        "astromer",
        "astromer.__main__",
        "astromer.errors",
        "astromer.io",
        "astromer.download",
        "astromer.preprocessing",
    }
    loose = [module_name(p) for p in all_modules() if layer_of(module_name(p)) is None]
    assert set(loose) <= shared, sorted(set(loose) - shared)


@pytest.mark.parametrize(
    "module, source, culprit",
    [
        ("astromer.core.encoder", "from ..data.store import LightCurveStore\n", "astromer.data.store"),
        ("astromer.core.fitting", "def f():\n    from astromer.experiments import figures\n", "astromer.experiments"),
        ("astromer.core.classifiers.heads", "from ...cli import main\n", "astromer.cli"),
        ("astromer.core", "from . import resume\nfrom ..experiments import runs\n", "astromer.experiments"),
        ("astromer.data.splits", "import astromer.experiments.results\n", "astromer.experiments.results"),
        ("astromer.data.simulate.simulator", "from ...cli.data import register\n", "astromer.cli.data"),
        ("astromer.experiments.runs", "from .. import cli\n", "astromer.cli"),
        ("astromer.core.layers", "import pandas as pd\n", "pandas"),
        ("astromer.core.devices", "def f():\n    import matplotlib.pyplot as plt\n", "matplotlib.pyplot"),
        ("astromer.core.resume", "import argparse\n", "argparse"),
    ],
)
def test_the_detector_flags_a_planted_bad_import(module, source, culprit):
    found = violations(source, module, is_package=module == "astromer.core")
    assert any(f"imports {culprit} " in v for v in found), found


@pytest.mark.parametrize(
    "module, source",
    [
        ("astromer.cli.training", "from ..core.encoder import SingleBandEncoder\nfrom ..experiments import runs\n"),
        ("astromer.experiments.figures", "import pandas\nfrom ..data.store import LightCurveStore\n"),
        (
            "astromer.data.store",
            "from ..io import atomic_directory\nfrom ..errors import AstromerError\nimport pandas\n",
        ),
        ("astromer.core.weights", "from ..download import fetch\nfrom .. import __version__\n"),
    ],
)
def test_the_detector_allows_downward_and_shared_imports(module, source):
    assert violations(source, module) == []


# ------------------------------------------------------------------ function length (issue 10)
MAX_FUNCTION_LINES = 60  # no function in src/ longer than this
MAX_FITTING_LINES = 40  # the one training loop's functions stay shorter still


def long_functions(source: str, limit: int) -> list[str]:
    """``name (lines, from line N)`` of every function or method in ``source`` longer than ``limit`` lines
    (decorators not counted, the signature and docstring counted)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append(f"{node.name} ({length} lines, from line {node.lineno})")
    return found


def test_no_function_in_src_is_longer_than_60_lines():
    offenders = [
        f"{path.relative_to(SRC)}: {entry}"
        for path in all_modules()
        for entry in long_functions(path.read_text(), MAX_FUNCTION_LINES)
    ]
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines (split them into helpers): {offenders}"


def test_the_fitting_loops_functions_are_at_most_40_lines():
    path = SRC / "astromer" / "core" / "fitting.py"
    offenders = long_functions(path.read_text(), MAX_FITTING_LINES)
    assert not offenders, f"{path.name}: functions over {MAX_FITTING_LINES} lines: {offenders}"


def _planted(name: str, lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 2))
    return f"{indent}def {name}():\n{body}{indent}    return 0\n"


def test_the_length_detector_flags_a_planted_61_line_function_and_not_a_60_line_one():
    source = _planted("fine", 60) + "\n\nclass Holder:\n" + _planted("too_long", 61, indent="    ")
    assert long_functions(source, MAX_FUNCTION_LINES) == ["too_long (61 lines, from line 64)"]
    assert long_functions(_planted("fine", 41), MAX_FITTING_LINES) == ["fine (41 lines, from line 1)"]
