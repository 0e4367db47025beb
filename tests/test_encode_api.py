import numpy as np
import pytest

from astromer import SingleBandEncoder
from astromer.errors import LightCurveError

from conftest import synthetic_curves


@pytest.fixture(scope="module")
def small():
    return SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, mode="legacy", seed=0)


def test_encode_returns_one_array_per_curve_in_input_order(small):
    rng = np.random.default_rng(0)
    curves = synthetic_curves(5, rng, min_len=30, max_len=700)
    curves.append(synthetic_curves(1, rng, min_len=400, max_len=401)[0])  # exact multiple of 200
    out = small.encode(curves, batch_size=3)
    assert [o.shape for o in out] == [(len(c), 16) for c in curves]
    reversed_out = small.encode(curves[::-1])
    for a, b in zip(out, reversed_out[::-1]):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_encode_windows_shape_check(small):
    with pytest.raises(ValueError, match="n_windows, 200, 1"):
        small.encode_windows(np.zeros((2, 100, 1)), np.zeros((2, 100, 1)), np.zeros((2, 100, 1)))


def test_encode_names_the_bad_curve(small):
    good = synthetic_curves(1, np.random.default_rng(1))[0]
    bad = good.copy()
    bad[5, 1] = np.nan
    with pytest.raises(LightCurveError, match="'star-b'"):
        small.encode([good, bad], ids=["star-a", "star-b"])
