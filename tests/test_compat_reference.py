"""Legacy mode against the authors' package run on real MACHO curves (../shared/data/reference_macho).

Every .npz in that folder is checked, so further real curves dropped there are tested the same way.
"""

import numpy as np
import pytest

from astromer.core.preprocessing import Flat, make_windows, sequential_starts

from conftest import REFERENCE

FILES = sorted(REFERENCE.glob("*.npz"))


def test_reference_files_present():
    assert len(FILES) >= 6, f"expected the reference MACHO outputs in {REFERENCE}"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_legacy_preprocessing_reproduces_stored_windows(path):
    ref = np.load(path)
    raw = ref["raw"]
    starts = sequential_starts(len(raw))
    np.testing.assert_array_equal(starts, ref["window_start"])
    win = make_windows(Flat.from_arrays([raw]), np.zeros(starts.size, int), starts, mode="legacy")
    np.testing.assert_array_equal(win["length"], ref["length"])
    for key in ("times", "input", "mask_in", "mask_out", "output"):
        np.testing.assert_array_equal(win[key], ref[key], err_msg=f"{path.name}: {key}")


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_published_weights_reproduce_embeddings_and_reconstruction(path, published_model):
    ref = np.load(path)
    emb = published_model.encode_windows(ref["times"], ref["input"], ref["mask_in"])
    assert np.abs(emb - ref["embedding"]).max() < 1e-3
    recon = published_model.reconstruct(
        {"times": ref["masked_times"], "input": ref["masked_input"], "mask_in": ref["masked_mask_in"]}
    )
    assert np.abs(recon - ref["recon_masked"]).max() < 1e-4
    # and the authors' loss on the stored masking
    from astromer.core.pretraining import masked_rmse

    rmse = float(masked_rmse(ref["masked_output"], recon, ref["masked_mask_out"]))
    assert rmse == pytest.approx(float(ref["rmse_masked_custom_rmse"]), abs=1e-4)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_encode_raw_curve_matches_first_window(path, published_model):
    ref = np.load(path)
    raw = ref["raw"]
    (emb,) = published_model.encode([raw])
    assert emb.shape == (len(raw), 256)
    n = min(200, len(raw))
    assert np.abs(emb[:n] - ref["embedding"][0, :n]).max() < 1e-3
    # rows after the first window come from the stored windows too (first window containing them)
    for k, (start, length) in enumerate(zip(ref["window_start"], ref["length"])):
        prev_end = ref["window_start"][k - 1] + ref["length"][k - 1] if k else 0
        lo = max(start, prev_end)
        if lo < start + length:
            assert np.abs(emb[lo : start + length] - ref["embedding"][k, lo - start : length]).max() < 1e-3


def test_published_checkpoint_parameter_count(published_model):
    assert published_model.model.count_params() == 661_505
    assert published_model.config["mode"] == "legacy"
