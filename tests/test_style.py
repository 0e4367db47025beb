"""Format and lint, as CI runs them (the test extra installs ruff and snakefmt): ruff for the Python code
(lint rules and the formatter configured in pyproject.toml), snakefmt for the Snakefile and the rule files.
`snakemake --lint` is tests/test_workflow_lint.py. Fix locally with:
    ruff check --fix . && ruff format . && snakefmt Snakefile workflow/rules"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_support import REPO

BIN = Path(sys.executable).parent
PYTHON_TREES = ["src", "tests", "bench", "workflow/scripts"]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_lint_is_clean():
    run = _run(_tool("ruff"), "check", "--no-cache", *PYTHON_TREES)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_ruff_format_is_clean():
    run = _run(_tool("ruff"), "format", "--check", "--no-cache", *PYTHON_TREES)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_snakefmt_is_clean():
    run = _run(_tool("snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]


def test_the_checks_can_fail(tmp_path):
    """The same tools flag a planted unused import, a badly formatted line and a badly formatted rule."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx=1\n")
    assert _run(_tool("ruff"), "check", "--no-cache", str(bad)).returncode != 0
    assert _run(_tool("ruff"), "format", "--check", "--no-cache", str(bad)).returncode != 0
    rule = tmp_path / "bad.smk"
    rule.write_text('rule a:\n    output: "x"\n    shell:   "touch {output}"\n')
    assert _run(_tool("snakefmt"), "--check", str(rule)).returncode != 0
