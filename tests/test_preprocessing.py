import numpy as np
import pytest

from astromer.core.preprocessing import (
    Flat,
    check_light_curve,
    load_numpy,
    mask_counts,
    mask_windows,
    prepare_windows,
    sequential_starts,
)
from astromer.errors import LightCurveError


@pytest.mark.parametrize(
    "n, starts", [(45, [0]), (400, [0, 200, 200]), (450, [0, 200, 250]), (722, [0, 200, 400, 522]), (200, [0, 0])]
)
def test_sequential_starts_follow_the_authors(n, starts):
    assert sequential_starts(n).tolist() == starts


def test_legacy_mask_counts_match_the_authors_example():
    nmask, same, rnd = mask_counts(np.array([200]), 0.5, 0.2, 0.2, "legacy")
    assert (nmask[0], same[0], rnd[0]) == (100, 20, 16)
    nmask, same, rnd = mask_counts(np.array([200]), 0.5, 0.2, 0.2, "paper")
    assert (nmask[0], same[0], rnd[0]) == (100, 20, 20)


@pytest.mark.parametrize("mode", ["legacy", "paper"])
def test_masking_marks_the_right_positions(mode, rng):
    t = np.cumsum(rng.uniform(0.5, 3, 300))
    arr = np.c_[t, rng.normal(15, 1, 300), np.full(300, 0.1)]
    flat = Flat.from_arrays([arr, arr[:80]])
    win = mask_windows(flat, np.array([0, 1]), np.array([50, 0]), mode=mode, rng=rng)
    nmask, same, rnd = mask_counts(np.array([200, 80]), 0.5, 0.2, 0.2, mode)
    assert win["mask_out"][:, :, 0].sum(axis=1).tolist() == nmask.tolist()
    hidden = (win["mask_in"] * win["mask_out"])[:, :, 0].sum(axis=1)
    assert hidden.tolist() == (nmask - same - rnd).tolist()
    # padding: masked in attention, never a target, zero values
    assert (win["mask_in"][1, 80:] == 1).all() and (win["mask_out"][1, 80:] == 0).all()
    assert (win["input"][1, 80:] == 0).all() and (win["times"][1, 80:] == 0).all()
    if mode == "paper":
        assert (win["input"][win["mask_in"] == 1] == 0).all()


def test_prepare_windows_index_and_dedupe():
    arrs = [np.c_[np.arange(n, dtype=float), np.zeros(n), np.zeros(n)] for n in (400, 45)]
    win = prepare_windows(arrs, window="all")
    assert win["index"].tolist() == [0, 0, 1] and win["start"].tolist() == [0, 200, 0]
    assert win["input"].shape == (3, 200, 1)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.c_[[1.0, 2, 3], [1.0, np.nan, 1], [0.1] * 3], "NaN or infinite"),
        (np.c_[[1.0, 2, 3], [1.0, np.inf, 1], [0.1] * 3], "NaN or infinite"),
        (np.c_[[1.0, 2, 3], [15.0, 99.999, 15], [0.1] * 3], "sentinel"),
        (np.c_[[1.0, 3, 2], [1.0, 1, 1], [0.1] * 3], "not sorted"),
        (np.c_[[1.0, 2, 2], [1.0, 1, 1], [0.1] * 3], "duplicate time"),
        (np.c_[[1.0, 2, 3], [1.0, 1, 1]], r"\(n_obs, 3\)"),
        (np.c_[[1.0, 2, 3], [1.0, 1, 1], [0.1, -1, 0.1]], "negative"),
    ],
)
def test_bad_light_curves_are_refused_with_the_object_named(bad, message):
    with pytest.raises(LightCurveError, match=message) as info:
        check_light_curve(bad, object_id="star-42", source="mystars.csv")
    assert "star-42" in str(info.value) and "mystars.csv" in str(info.value)


def test_minimum_number_of_points():
    arr = np.c_[[1.0, 2], [1.0, 1], [0.1, 0.1]]
    check_light_curve(arr, "ok", min_obs=2)
    with pytest.raises(LightCurveError, match="fewer than the minimum of 5"):
        check_light_curve(arr, "short", min_obs=5)


def test_load_numpy_gives_batches(rng):
    from conftest import synthetic_curves

    ds = load_numpy(
        synthetic_curves(10, rng), batch_size=4, msk_frac=0.5, rnd_frac=0.2, same_frac=0.2, max_obs=200, seed=0
    )
    batch = next(iter(ds))
    assert batch["input"].shape == (4, 200, 1) and batch["mask_out"].numpy().sum() > 0
    with pytest.raises(LightCurveError, match="#1"):
        load_numpy([synthetic_curves(1, rng)[0], np.zeros((3, 2))], batch_size=2)


def test_all_window_starts_are_every_sequential_window_of_every_curve():
    from astromer.core.preprocessing import all_window_starts, sequential_starts

    lengths = np.array([7, 200, 201, 400, 650, 1])
    index, starts = all_window_starts(lengths, 200)
    expected = [(i, s) for i, n in enumerate(lengths) for s in sequential_starts(int(n), 200, dedupe=True)]
    assert list(zip(index.tolist(), starts.tolist())) == expected
    # 650 observations: [0,200) [200,400) [400,600) and the overlapping last [450,650); 400: no duplicate
    assert starts[index == 4].tolist() == [0, 200, 400, 450] and starts[index == 3].tolist() == [0, 200]
