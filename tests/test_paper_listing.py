"""The paper's own code listing (Sect. 9) runs as printed (issue 15), and `fit` takes what `load_numpy`
makes: the same loop as lists of curves, or an error naming the two accepted forms."""

import shutil

import numpy as np
import pytest

from astromer import SingleBandEncoder
from astromer.core import weights
from astromer.preprocessing import load_numpy

from conftest import WEIGHTS, synthetic_curves

# the two toy light curves of the authors' package README (time, magnitude, magnitude std)
TOY = [np.array([[5200, 0.3, 0.2], [5300, 0.5, 0.1], [5400, 0.2, 0.3]]), np.array([[4200, 0.3, 0.1], [4300, 0.6, 0.3]])]


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_paper_listing_verbatim(tmp_path, monkeypatch, published_model):
    shutil.copytree(WEIGHTS, tmp_path / "cache" / "macho_a0")  # the cache, seeded: no network
    monkeypatch.setenv(weights.ENV_DIR, str(tmp_path / "cache"))
    monkeypatch.setenv(weights.ENV_URL, "http://127.0.0.1:9/")  # were it to download, it would fail
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(5)
    data = TOY

    # ---- Sect. 9, as printed
    model = SingleBandEncoder()
    model = model.from_pretraining("macho")
    att_vectors = model.encode(data)
    # ----
    assert [a.shape for a in att_vectors] == [(3, 256), (2, 256)]
    assert all(np.isfinite(a).all() for a in att_vectors)
    expected = published_model.encode(TOY)
    assert all(np.array_equal(a, b) for a, b in zip(att_vectors, expected, strict=True))

    data, validation = synthetic_curves(30, rng, 60, 300), synthetic_curves(8, rng, 60, 300)
    validation_data = load_numpy(validation, batch_size=2, msk_frac=0.5, rnd_frac=0.2, same_frac=0.2, max_obs=200)
    before = [w.copy() for w in model.model.get_weights()]
    # ---- Sect. 9, as printed (epochs=2 for the test)
    training_data = load_numpy(data, batch_size=2, msk_frac=0.5, rnd_frac=0.2, same_frac=0.2, max_obs=200)
    history = model.fit(training_data, validation_data, epochs=2)
    # ----
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    assert all(np.isfinite(e["loss"]) and np.isfinite(e["val_loss"]) for e in history.epochs)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.model.get_weights()))


def _small(seed=3):
    return SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, max_obs=40, seed=seed)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_fit_on_load_numpy_datasets_is_fit_on_their_curves_and_settings(rng):
    train, valid = synthetic_curves(24, rng, 30, 90), synthetic_curves(8, rng, 30, 90)
    settings = {"batch_size": 5, "msk_frac": 0.4, "rnd_frac": 0.1, "same_frac": 0.3}
    from_datasets = _small().fit(
        load_numpy(train, max_obs=40, **settings),
        load_numpy(valid, max_obs=40, **settings),
        epochs=2,
        jit_compile=False,
    )
    from_lists = _small().fit(train, valid, epochs=2, jit_compile=False, **settings)
    default_masking = _small().fit(train, valid, epochs=2, jit_compile=False, batch_size=5)

    def losses(history):
        return [value for e in history.epochs for value in (e["loss"], e["val_loss"])]

    assert losses(from_datasets) == pytest.approx(losses(from_lists), rel=1e-5)
    # the dataset's masking fractions are used (the defaults 0.5/0.2/0.2 give other numbers)
    assert losses(from_datasets) != pytest.approx(losses(default_masking), rel=1e-5)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_fit_on_datasets_resumes(rng, tmp_path):
    train, valid = synthetic_curves(12, rng, 30, 90), synthetic_curves(4, rng, 30, 90)
    args = dict(epochs=3, ckpt_dir=tmp_path / "ck", jit_compile=False)
    first = _small().fit(
        load_numpy(train, max_obs=40, batch_size=4), load_numpy(valid, max_obs=40), max_epochs_this_run=1, **args
    )
    assert first.n_epochs == 1
    resumed = _small().fit(load_numpy(train, max_obs=40, batch_size=4), load_numpy(valid, max_obs=40), **args)
    assert resumed.resumed_from == 1 and resumed.n_epochs == 3


@pytest.mark.parametrize(
    "bad, says",
    [
        ({"curves": []}, "is a dict"),
        (42, "is a int"),
        ("curves.npz", "is a str"),
        ("mapped", "transformed after load_numpy"),
        ("batches", "list of dicts"),
    ],
)
def test_fit_rejects_anything_else_naming_the_two_forms(rng, bad, says):
    curves = synthetic_curves(4, rng, 30, 60)
    if bad == "mapped":
        bad = load_numpy(curves, max_obs=40).map(lambda batch: batch)
    elif bad == "batches":
        bad = list(load_numpy(curves, max_obs=40))
    with pytest.raises(TypeError, match=says) as info:
        _small().fit(bad, curves, epochs=1)
    assert "list of (n, 3) arrays" in str(info.value) and "load_numpy" in str(info.value)


def test_fit_refuses_settings_that_contradict_the_dataset(rng):
    curves = synthetic_curves(6, rng, 30, 60)
    with pytest.raises(ValueError, match="batch_size=2, but fit\\(batch_size=...\\) says 8"):
        _small().fit(load_numpy(curves, max_obs=40, batch_size=2), curves, epochs=1, batch_size=8)
    with pytest.raises(ValueError, match="msk_frac=0.3, but the training dataset says 0.5"):
        _small().fit(load_numpy(curves, max_obs=40), load_numpy(curves, max_obs=40, msk_frac=0.3), epochs=1)
    with pytest.raises(ValueError, match="max_obs=200"):
        _small().fit(load_numpy(curves), curves, epochs=1)
    with pytest.raises(ValueError, match="msk_frac=0"):
        _small().fit(load_numpy(curves, max_obs=40, msk_frac=0), curves, epochs=1)
