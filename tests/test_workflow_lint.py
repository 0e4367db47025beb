"""`snakemake --lint` finds nothing (log on every rule, conda envs, no mixed functions and rules...)."""

from workflow_support import snakemake


def test_lint_is_clean():
    result = snakemake("--lint", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition" in result.stdout + result.stderr


def test_lint_is_clean_for_the_demo():
    result = snakemake("--lint", "--configfile", "config/demo.yaml", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
