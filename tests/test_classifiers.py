"""Classifiers: shapes, masking (padding never changes an output), frozen vs trained encoder, training loop."""

import numpy as np
import pytest

from astromer.core.classifiers.heads import (
    MaskedMean,
    build_classifier,
    build_lstm_head,
    build_mlp_head,
    embedding_size,
)
from astromer.core.classifiers.training import fit_classifier, make_dataset, predict_labels
from astromer.core.preprocessing import prepare_windows

keras = pytest.importorskip("keras")

L = 200


def tiny_encoder(d_model=8, seed=0):
    """The real encoder at toy size (1 block, d=8), so the contract is exercised without heavy compute."""
    from astromer import SingleBandEncoder

    return SingleBandEncoder(num_layers=1, d_model=d_model, num_heads=2, dff=8, max_obs=L, seed=seed)


class StandInEncoder(keras.Model):
    """Minimal model with the encoder's call signature: Dense on (mag, time), (B, L, d)."""

    def __init__(self, d=6, **kw):
        super().__init__(**kw)
        self.proj = keras.layers.Dense(d)

    def call(self, inputs, training=False):
        x = keras.ops.concatenate([inputs["input"], inputs["times"]], axis=-1)
        return self.proj(x)


def windows(n, rng, lengths=None):
    lengths = lengths if lengths is not None else rng.integers(30, 260, n)
    curves = []
    for k in lengths:
        t = np.sort(rng.uniform(0, 500, k))
        curves.append(np.c_[t, np.sin(t / 7) + rng.normal(0, 0.1, k), np.full(k, 0.1)])
    return prepare_windows(curves, max_obs=L, window="first")


def as_inputs(win):
    return {k: keras.ops.convert_to_tensor(win[k]) for k in ("input", "times", "mask_in")}


def scramble_padding(win, rng):
    """The same windows with padded steps filled with large random values."""
    out = {k: np.array(v, copy=True) for k, v in win.items()}
    pad = out["mask_in"] == 1
    for k in ("input", "times"):
        out[k][pad] = rng.normal(0, 100, pad.sum())
    return out


@pytest.mark.parametrize("kind", ["lstm", "lstm_att", "mlp_att"])
def test_output_shape_and_probabilities(kind, rng):
    win = windows(5, rng)
    enc = tiny_encoder() if kind != "lstm" else None
    model = build_classifier(kind, 3, encoder=enc.encoder if enc else None, units=16)
    probs = np.asarray(model(as_inputs(win)))
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_paper_sizes():
    head = build_lstm_head(256, 4)
    names = [layer.name for layer in head.layers]
    assert names.count("lstm_0") == 1 and head.get_layer("lstm_0").units == 256
    assert isinstance(head.get_layer("norm_1"), keras.layers.LayerNormalization)
    assert head.get_layer("dropout_1").rate == pytest.approx(0.3)
    mlp = build_mlp_head(256, 4)
    assert [mlp.get_layer(f"dense_{i}").units for i in range(3)] == [1024, 512, 256]
    assert all(mlp.get_layer(f"dense_{i}").activation.__name__ == "relu" for i in range(3))


def test_masked_mean_ignores_padding(rng):
    values = rng.normal(size=(3, L, 4)).astype(np.float32)
    mask = np.ones((3, L, 1), np.float32)
    n_valid = [1, 57, L]
    for b, n in enumerate(n_valid):
        mask[b, :n] = 0
    got = np.asarray(MaskedMean()([values, mask]))
    expected = np.stack([values[b, :n].mean(axis=0) for b, n in enumerate(n_valid)])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    changed = values.copy()
    changed[mask[..., 0] == 1] = 1e6
    np.testing.assert_array_equal(np.asarray(MaskedMean()([changed, mask])), got)
    assert MaskedMean.from_config(MaskedMean(name="m").get_config()).name == "m"


@pytest.mark.parametrize("builder", [build_lstm_head, build_mlp_head])
def test_heads_ignore_padded_embeddings(builder, rng):
    head = builder(6, 3, max_obs=L, **({"units": 8} if builder is build_lstm_head else {"units": (16, 8)}))
    seq = rng.normal(size=(4, L, 6)).astype(np.float32)
    mask = np.ones((4, L, 1), np.float32)
    for b, n in enumerate([5, 80, 199, 200]):
        mask[b, :n] = 0
    ref = np.asarray(head([seq, mask]))
    seq2 = seq.copy()
    seq2[mask[..., 0] == 1] = rng.normal(0, 50, (int((mask == 1).sum()), 6))
    np.testing.assert_allclose(np.asarray(head([seq2, mask])), ref, atol=1e-6)
    # and a valid step does matter (the test can fail)
    seq3 = seq.copy()
    seq3[:, 0] += 5.0
    assert not np.allclose(np.asarray(head([seq3, mask])), ref, atol=1e-4)


def test_lstm_baseline_ignores_padded_values(rng):
    win = windows(4, rng, lengths=[10, 90, 150, 300])
    model = build_classifier("lstm", 3, units=8)
    ref = np.asarray(model(as_inputs(win)))
    np.testing.assert_allclose(np.asarray(model(as_inputs(scramble_padding(win, rng)))), ref, atol=1e-6)


def test_lstm_baseline_scales_each_window_to_unit_range(rng):
    """The authors' baseline min-max scales time and magnitude per window; raw days would saturate the LSTM."""
    from astromer.core.classifiers.heads import MinMaxLightCurve

    win = windows(3, rng, lengths=[1, 40, 300])
    out = np.asarray(MinMaxLightCurve()([win["times"], win["input"], win["mask_in"]]))
    valid = win["mask_in"][..., 0] == 0
    assert np.isfinite(out).all()
    assert (out[~valid] == 0).all()
    for row in (1, 2):
        for col in (0, 1):
            values = out[row, valid[row], col]
            assert values.min() == pytest.approx(0.0, abs=1e-6) and values.max() == pytest.approx(1.0, abs=1e-6)
    assert (out[0, valid[0]] == 0).all()  # one observation: no range, mapped to 0 rather than NaN
    # affine changes of the inputs (another epoch, another zero point) change nothing
    shifted = np.asarray(MinMaxLightCurve()([win["times"] * 3 + 5e4, win["input"] - 2.0, win["mask_in"]]))
    np.testing.assert_allclose(shifted[1:], out[1:], atol=1e-4)


def test_embedding_size_read_from_encoder():
    assert embedding_size(StandInEncoder(d=6)) == 6
    assert embedding_size(tiny_encoder(d_model=8).encoder) == 8


def _fit(model, win, y, epochs=2):
    ds = make_dataset(win, y, batch_size=8, shuffle=True, seed=0)
    return fit_classifier(model, ds, ds, epochs=epochs, patience=5, lr=1e-2, log=lambda m: None)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
@pytest.mark.parametrize("kind", ["lstm_att", "mlp_att"])
def test_frozen_encoder_bit_identical_trained_changes(kind, rng):
    win = windows(16, rng)
    y = rng.integers(0, 2, 16)
    for mode in ("frozen", "trained"):
        enc = StandInEncoder(d=6) if kind == "mlp_att" else tiny_encoder().encoder
        model = build_classifier(kind, 2, encoder=enc, train_encoder=mode == "trained", units=8)
        before = [np.array(w) for w in enc.get_weights()]
        head_before = [np.array(w) for w in model.head.get_weights()]
        _fit(model, win, y)
        after = enc.get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(before, after))
        assert same == (mode == "frozen"), f"{kind} {mode}: encoder weights identical={same}"
        assert not all(np.array_equal(a, b) for a, b in zip(head_before, model.head.get_weights()))


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_fit_keeps_best_weights_and_resumes(tmp_path, rng):
    win = windows(12, rng)
    y = rng.integers(0, 3, 12)
    model = build_classifier("lstm", 3, units=8)
    initial = model.get_weights()
    ds = make_dataset(win, y, batch_size=4)
    first = fit_classifier(
        model, ds, ds, epochs=3, patience=10, ckpt_dir=tmp_path, data="x", log=lambda m: None, max_epochs_this_run=2
    )
    assert first.n_epochs == 2 and not first.completed
    model2 = build_classifier("lstm", 3, units=8)
    model2.set_weights(initial)  # the same run: same settings, data and starting weights
    resumed = fit_classifier(model2, ds, ds, epochs=3, patience=10, ckpt_dir=tmp_path, data="x", log=lambda m: None)
    assert resumed.resumed_from == 2 and resumed.n_epochs == 3 and resumed.completed
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3]
    best = min(resumed.epochs, key=lambda e: e["val_loss"])
    assert resumed.best_epoch == best["epoch"]
    loss = model2.evaluate(ds, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(best["val_loss"], rel=1e-4)  # the model ends at its best epoch
    assert predict_labels(model2, ds).shape == (12,)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_a_state_of_another_run_is_moved_aside_not_resumed(tmp_path, rng):
    win = windows(12, rng)
    ds = make_dataset(win, rng.integers(0, 3, 12), batch_size=4)
    initial = build_classifier("lstm", 3, units=8).get_weights()

    def run(data, restart=False, slice_=None):
        model = build_classifier("lstm", 3, units=8)
        model.set_weights(initial)
        said = []
        history = fit_classifier(
            model,
            ds,
            ds,
            epochs=3,
            ckpt_dir=tmp_path,
            data=data,
            restart=restart,
            log=said.append,
            max_epochs_this_run=slice_,
        )
        return history, " | ".join(said)

    run("x", slice_=1)  # an interrupted run
    history, said = run("other", slice_=1)  # other data, same ckpt folder
    assert history.resumed_from is None and "its data differ" in said and "moved aside" in said, said
    history, said = run("other", restart=True, slice_=1)
    assert history.resumed_from is None and "restart requested" in said, said
    history, said = run("other")  # the same run resumes
    assert history.resumed_from == 1 and history.completed, said
    history, said = run("other")  # a completed run is never resumed: a rerun trains again
    assert history.resumed_from is None and "already completed" in said, said
    kept = sorted(tmp_path.glob("classifier_state.superseded-*.npz"))
    assert len(kept) >= 1  # superseded states are kept, named, not deleted


def test_early_stopping_counts_epochs(rng):
    win = windows(8, rng)
    y = rng.integers(0, 2, 8)
    model = build_classifier("lstm", 2, units=4)
    ds = make_dataset(win, y, batch_size=8)
    hist = fit_classifier(model, ds, ds, epochs=50, patience=2, lr=0.0, log=lambda m: None)  # lr 0: never improves
    assert hist.stopped_early and hist.n_epochs == 3 and hist.best_epoch == 1


@pytest.mark.parametrize("kind", ["lstm_att", "mlp_att"])
def test_att_classifiers_ignore_padding_with_paper_encoder(kind, rng):
    """With the paper-mode encoder (padding excluded from attention) the whole model ignores padded values.
    (The legacy mode up-weights padded keys by e, as the authors' code does, so there it is not true.)"""
    from astromer import SingleBandEncoder

    enc = SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, max_obs=L, seed=0, mode="paper")
    model = build_classifier(kind, 3, encoder=enc.encoder, units=8)
    win = windows(3, rng, lengths=[20, 150, 260])
    ref = np.asarray(model(as_inputs(win)))
    np.testing.assert_allclose(np.asarray(model(as_inputs(scramble_padding(win, rng)))), ref, atol=1e-5)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_frozen_head_on_cached_embeddings_equals_training_through_the_frozen_encoder(rng):
    """classify trains a frozen case's head on embeddings computed once: the same head as training the whole
    model with the encoder frozen (inference mode either way)."""
    from astromer.core.classifiers.training import frozen_datasets

    win = windows(20, rng, lengths=[30 + 11 * i for i in range(20)])
    y = rng.integers(0, 2, 20)
    results = []
    for cached in (False, True):
        keras.utils.set_random_seed(3)
        enc = tiny_encoder().encoder
        model = build_classifier("lstm_att", 2, encoder=enc, units=8)
        if cached:
            data = frozen_datasets(enc, {"train": win, "test": win}, {"train": y, "test": y}, batch_size=8)
            trained = model.head
        else:
            data = {"train": make_dataset(win, y, 8, shuffle=True), "test": make_dataset(win, y, 8)}
            trained = model
        hist = fit_classifier(trained, data["train"], data["test"], epochs=3, patience=5, lr=1e-2, log=lambda m: None)
        probs = np.concatenate(
            [np.asarray(model.head(x, training=False)) if cached else np.asarray(model(x)) for x, _ in data["test"]]
        )
        results.append(([e["loss"] for e in hist.epochs], probs))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-4)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-5)


def test_lstm_att_standardizes_each_feature_over_the_valid_steps():
    """Issue 13: embeddings share a large offset; the LSTM+ATT input is standardized per window and feature
    over its valid steps (the authors' get_lstm_att), padding stays 0 and cannot move the statistics."""
    from astromer.core.classifiers.heads import StandardizeOverTime

    rng = np.random.default_rng(0)
    x = (50.0 + 0.1 * rng.normal(size=(2, 6, 3))).astype(np.float32)
    mask = np.zeros((2, 6, 1), np.float32)
    mask[1, 4:] = 1.0
    x[1, 4:] = 1e6  # padding
    out = np.asarray(StandardizeOverTime()([x, mask]))
    np.testing.assert_allclose(out[0].mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(out[0].std(0), 1, atol=1e-2)
    np.testing.assert_allclose(out[1, :4].mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(out[1, :4].std(0), 1, atol=1e-2)
    assert (out[1, 4:] == 0).all()


def test_mlp_head_standardizes_mean_embeddings_with_training_statistics():
    from astromer.core.classifiers.heads import adapt_standardization, build_mlp_head, masked_mean

    rng = np.random.default_rng(1)
    emb = (3.0 + 0.02 * rng.normal(size=(40, 5, 4))).astype(np.float32)
    mask = np.zeros((40, 5, 1), np.float32)
    mask[:, 3:] = 1.0
    emb[:, 3:] = -1e3  # padding must not enter the statistics
    head = build_mlp_head(4, 3, max_obs=5)
    assert adapt_standardization(head, emb, mask)
    means = np.asarray(masked_mean(emb, mask))
    standardized = np.asarray(head.get_layer("standardize")(means))
    np.testing.assert_allclose(standardized.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(standardized.std(0), 1, atol=1e-3)
    assert not adapt_standardization(build_lstm_head(4, 3, max_obs=5), emb, mask)  # nothing to adapt


@pytest.mark.parametrize("kind, embeddings_computed", [("lstm_att", 0), ("mlp_att", 1)])
def test_training_embeddings_are_computed_only_for_a_head_that_standardizes_with_them(
    kind, embeddings_computed, monkeypatch
):
    import argparse

    from astromer.experiments.runs import _classifier_data

    rng = np.random.default_rng(3)
    encoder = tiny_encoder()
    calls, encode_windows = [], encoder.encode_windows
    monkeypatch.setattr(encoder, "encode_windows", lambda *a, **k: calls.append(1) or encode_windows(*a, **k))
    parts = {part: windows(6, rng) for part in ("train", "val", "test")}
    labels = {part: np.arange(6) % 2 for part in parts}
    model = build_classifier(kind, 2, encoder=encoder.encoder, train_encoder=True, max_obs=L, units=4)
    args = argparse.Namespace(encoder_mode="trained", max_obs=L, batch_size=4, seed=0)
    _, trained, _ = _classifier_data(args, model, encoder, parts, labels)
    assert trained is model and len(calls) == embeddings_computed
    if kind == "mlp_att":  # and the MLP head's standardization was set from them
        assert not np.allclose(np.asarray(model.head.get_layer("standardize").mean), 0)


@pytest.mark.parametrize("kind", ["lstm", "lstm_att", "mlp_att"])
@pytest.mark.parametrize("n", [1, 5, 12])
def test_a_batch_in_parts_gets_the_whole_batchs_probabilities_and_gradients(kind, n, rng):
    """On CPUs a step computes its batch in parts that run at once: every window gets the probabilities, and
    the loss the gradients, that the whole batch gives (inference mode: no dropout), for any batch size, one
    window and more parts than windows (parts that would be empty) included."""
    import tensorflow as tf

    from astromer.core.classifiers.training import probabilities_in_parts

    keras.utils.set_random_seed(1)
    model = build_classifier(kind, 3, encoder=None if kind == "lstm" else tiny_encoder().encoder, units=8)
    model.trainable = True
    x = as_inputs(windows(n, rng, lengths=rng.integers(30, 260, n)))
    y = rng.integers(0, 3, n)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    results = {}
    for parts in (1, 2, 7):
        with tf.GradientTape() as tape:
            probs = probabilities_in_parts(model, x, False, parts)
            loss = loss_fn(y, probs)
        grads = tape.gradient(loss, model.trainable_variables)
        results[parts] = (np.asarray(probs), [np.asarray(tf.convert_to_tensor(g)) for g in grads])
    whole_probs, whole_grads = results[1]
    assert whole_probs.shape == (n, 3) and len(whole_grads) > 4
    for parts in (2, 7):
        probs, grads = results[parts]
        np.testing.assert_allclose(probs, whole_probs, rtol=1e-5, atol=1e-7)
        for g, w in zip(grads, whole_grads):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_on_a_cpu_the_train_and_test_steps_compute_their_batch_in_parts(monkeypatch, rng):
    """The compiled steps of fit_classifier and predict_labels call the model on CPU_STEP_PARTS parts."""
    from astromer.core.classifiers import training
    from astromer.core.devices import gpu_visible

    if gpu_visible():
        pytest.skip("one part on a GPU")
    seen = []
    real = training.probabilities_in_parts

    def recording(model, x, training_mode, parts):
        seen.append((training_mode, parts))
        return real(model, x, training_mode, parts)

    monkeypatch.setattr(training, "probabilities_in_parts", recording)
    win = windows(10, rng)
    y = rng.integers(0, 2, 10)
    model = build_classifier("mlp_att", 2, encoder=StandInEncoder(d=6), units=8)
    _fit(model, win, y, epochs=1)
    predict_labels(model, make_dataset(win, y, 4))
    assert set(seen) == {(True, training.CPU_STEP_PARTS), (False, training.CPU_STEP_PARTS)}
    assert training.CPU_STEP_PARTS == 2


def test_a_smaller_batch_filled_up_to_the_steps_size_counts_only_its_own_windows(rng):
    """The compiled steps take one batch shape: a smaller last batch is filled up with copies of its windows,
    which change neither its loss (Keras' cross-entropy over the real windows), its accuracy, its predictions,
    nor the train step's gradients (the real encoder, trained, and the MLP head, without dropout so that the
    step is deterministic; plain SGD, so that each weight moves by its gradient times the learning rate)."""
    from astromer import SingleBandEncoder
    from astromer.core.classifiers import training

    win, y = windows(5, rng), rng.integers(0, 3, 5)
    results = {}
    for size in (5, 8):
        keras.utils.set_random_seed(2)
        encoder = SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, max_obs=L, dropout=0.0, seed=0)
        model = build_classifier("mlp_att", 3, encoder=encoder.encoder, train_encoder=True, units=8)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
        model.optimizer.build(model.trainable_variables)
        before = [np.array(w) for w in model.trainable_weights]
        ds = make_dataset(win, y, batch_size=5)
        train, test = training._compiled_steps(model, ds.element_spec, size)
        ((x, labels, n),) = list(training._fixed_batches(ds, size))
        assert n == 5 and labels.shape[0] == size
        loss, hits, probs = test(x, labels, n)
        train_loss, train_hits = train(x, labels, n)
        results[size] = {
            "loss": float(loss),
            "hits": float(hits),
            "probs": np.asarray(probs)[:n],
            "train": (float(train_loss), float(train_hits)),
            "steps": [np.array(w) - b for w, b in zip(model.trainable_weights, before)],
        }
    alone, filled = results[5], results[8]
    keras_loss = float(keras.losses.SparseCategoricalCrossentropy()(y, alone["probs"]))
    assert alone["loss"] == pytest.approx(keras_loss, rel=1e-6)
    assert alone["hits"] == np.sum(alone["probs"].argmax(axis=1) == y)
    assert filled["loss"] == pytest.approx(alone["loss"], rel=1e-6) and filled["hits"] == alone["hits"]
    np.testing.assert_allclose(filled["probs"], alone["probs"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(filled["train"], alone["train"], rtol=1e-6)
    # the updates well above the weights' rounding (1e-4): the encoder's and the head's
    compared = [(a, b) for a, b in zip(filled["steps"], alone["steps"]) if np.abs(b).max() > 1e-4]
    assert len(compared) >= 10, len(compared)
    for a, b in compared:
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(b).max())


def test_fixed_batches_fill_up_and_cut_batches_in_order(rng):
    """Batches larger than the step's size are cut, smaller ones filled up with copies of their own windows;
    the real windows come first and in order."""
    from astromer.core.classifiers import training

    win, y = windows(10, rng), np.arange(10) % 3
    batches = list(training._fixed_batches(make_dataset(win, y, batch_size=10), 4))
    assert [n for _, _, n in batches] == [4, 4, 2]
    assert all(labels.shape[0] == 4 for _, labels, _ in batches)
    real = np.concatenate([np.asarray(x["input"])[:n] for x, _, n in batches])
    np.testing.assert_array_equal(real, win["input"])
    last_x, last_y, _ = batches[-1]
    np.testing.assert_array_equal(np.asarray(last_x["input"])[2:], win["input"][[8, 9]])  # copies of 8 and 9
    np.testing.assert_array_equal(np.asarray(last_y), y[[8, 9, 8, 9]])
