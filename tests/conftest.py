import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the command line's XLA compilation cache (astromer.core.compile_cache): the tests' own, not the user's
os.environ.setdefault("ASTROMER_XLA_CACHE", tempfile.mkdtemp(prefix="astromer-test-xla-"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WEIGHTS = SHARED / "data" / "astromer_macho_v0"
REFERENCE = SHARED / "data" / "reference_macho"


def synthetic_curves(n_curves, rng, min_len=120, max_len=420, cadence=3.0):
    """Periodic light curves with irregular sampling, for tests that need many curves."""
    curves = []
    for n in rng.integers(min_len, max_len, n_curves):
        t = 50000 + np.cumsum(rng.exponential(cadence, n))
        period, amp = rng.uniform(0.3, 30), rng.uniform(0.1, 1.0)
        mag = 15 + amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3)) + rng.normal(0, 0.03, n)
        curves.append(np.c_[t, mag, np.full(n, 0.03)])
    return curves


@pytest.fixture(scope="session")
def published_model():
    if not WEIGHTS.is_dir():
        pytest.fail(f"published weights missing at {WEIGHTS}: CI needs ../shared beside the repository")
    from astromer import SingleBandEncoder

    return SingleBandEncoder.from_pretraining(WEIGHTS)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def unlabeled_pool(tmp_path_factory):
    """A small simulated unlabeled pool (60 OGLE-like curves) and its pretraining split, made once per session
    with the real commands: ``pool/store`` and ``pool/split.csv``."""
    from astromer.cli import main

    root = tmp_path_factory.mktemp("pool")
    assert (
        main(
            [
                "data",
                "simulate",
                "--profile",
                "ogle",
                "--pool",
                "unlabeled",
                "--n-objects",
                "60",
                "--seed",
                "3",
                "--out",
                str(root / "store"),
            ]
        )
        == 0
    )
    assert (
        main(
            ["data", "split-pretrain", "--store", str(root / "store"), "--seed", "3", "--out", str(root / "split.csv")]
        )
        == 0
    )
    return root
