"""The CPU fast paths of issue 14 give the numbers of the plain computation: the mask-free attention, the
XLA-fused LayerNorm, the half sin / half cos time encoding, encode's concurrent calls, a train step
traced once for every batch size, and Adam's update as one fused kernel per variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from astromer import SingleBandEncoder
from astromer.core import encoder as encoder_module
from astromer.core.devices import gpu_visible
from astromer.core.layers import MaskedSelfAttention, PositionalEncoding, layer_norm_rows, matmul_bias
from astromer.core.preprocessing import WINDOW_KEYS, Flat, mask_windows, random_starts
from astromer.core.pretraining import Trainer

from conftest import synthetic_curves


@pytest.mark.parametrize("mode", ["legacy", "paper"])
def test_the_mask_free_attention_equals_the_masked_one_where_nothing_is_masked(mode, rng):
    model = SingleBandEncoder(num_layers=2, d_model=32, num_heads=4, dff=16, max_obs=40, mode=mode, seed=4)
    inputs = {
        "input": tf.constant(rng.normal(size=(5, 40, 1)), tf.float32),
        "times": tf.constant(np.sort(rng.uniform(-300, 300, size=(5, 40, 1)), axis=1), tf.float32),
        "mask_in": tf.zeros((5, 40, 1)),
    }
    masked = model.encoder(inputs, masked=True).numpy()
    np.testing.assert_array_equal(model.encoder(inputs, masked=False).numpy(), masked)
    # and the flag really drops the mask: on a window with hidden positions the two differ
    hidden = dict(inputs, mask_in=tf.constant((rng.uniform(size=(5, 40, 1)) < 0.3).astype("float32")))
    assert np.abs(model.encoder(hidden, masked=False).numpy() - model.encoder(hidden).numpy()).max() > 1e-3


def test_the_fused_layer_norm_gives_keras_values_and_gradients(rng):
    norm = keras.layers.LayerNormalization(epsilon=1e-6)
    norm.build((None, 24))
    norm.gamma.assign(rng.normal(size=24).astype("float32"))  # not the default ones and zeros
    norm.beta.assign(rng.normal(size=24).astype("float32"))
    rows = tf.constant(rng.normal(3.0, 2.0, size=(50, 24)), tf.float32)
    results = []
    for fn in (norm, lambda x: layer_norm_rows(x, norm)):
        with tf.GradientTape() as tape:
            tape.watch(rows)
            out = fn(rows)
            loss = tf.reduce_sum(out * tf.range(24, dtype=tf.float32))  # weights every feature differently
        results.append([out.numpy()] + [g.numpy() for g in tape.gradient(loss, [rows, norm.gamma, norm.beta])])
    for keras_value, fused_value in zip(*results):
        np.testing.assert_allclose(fused_value, keras_value, atol=2e-5, rtol=1e-5)


def test_the_fused_adam_updates_every_variable_and_moment_as_keras_adam(rng):
    from astromer.core.optimizer import Adam

    shapes = [(7, 5), (5,), (3, 4, 2)]
    start = [rng.normal(size=shape).astype("float32") for shape in shapes]
    grads = [[tf.constant(rng.normal(size=shape), tf.float32) for shape in shapes] for _ in range(4)]
    results = []
    for optimizer_class in (keras.optimizers.Adam, Adam):
        variables = [keras.Variable(value) for value in start]
        # not the defaults: a wrong beta, epsilon or rate in the fused call would show
        optimizer = optimizer_class(learning_rate=3e-3, beta_1=0.8, beta_2=0.95, epsilon=1e-3)
        optimizer.build(variables)
        step = _apply_step(optimizer, variables)
        for g in grads:
            step(g)
        ops = [op.type for op in step.get_concrete_function(grads[0]).graph.get_operations()]
        results.append(([v.numpy() for v in variables + list(optimizer.variables)], ops))
    (keras_values, keras_ops), (fused_values, fused_ops) = results
    assert fused_ops.count("ResourceApplyAdam") == len(shapes) and "ResourceApplyAdam" not in keras_ops
    assert len(fused_values) == len(keras_values)  # the same state (iterations, moments): resume states agree
    for fused, reference in zip(fused_values, keras_values):
        np.testing.assert_allclose(fused, reference, rtol=1e-6, atol=1e-7)
    assert not np.allclose(fused_values[0], start[0])  # the variables moved


def _apply_step(optimizer, variables):
    return tf.function(lambda grads: optimizer.apply(grads, variables))


@pytest.mark.parametrize("d_model, paired", [(6, False), (6, True), (7, False)])
def test_the_time_encoding_is_sin_on_even_and_cos_on_odd_channels(d_model, paired, rng):
    times = rng.uniform(-500, 500, size=(2, 9, 1)).astype("float32")
    pe = PositionalEncoding(d_model, base=1000.0, paired=paired)
    i = np.arange(d_model)
    exponent = (2 * (i // 2) if paired else 2 * i) / np.float32(d_model)
    angles = times * (1.0 / np.power(1000.0, exponent)).astype("float32")
    expected = np.where(i % 2 == 0, np.sin(angles), np.cos(angles))
    np.testing.assert_allclose(pe(tf.constant(times)).numpy(), expected, atol=2e-6)
    # compiled by XLA (jit train steps, Keras' jit fit) it takes the path XLA has and gives the same values
    compiled = tf.function(pe, jit_compile=True)(tf.constant(times)).numpy()
    np.testing.assert_allclose(compiled, expected, atol=2e-6)


def test_encode_with_concurrent_calls_gives_the_numbers_of_one_call_at_a_time(monkeypatch, rng):
    model = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=8, max_obs=32, mode="legacy", seed=6)
    curves = synthetic_curves(9, rng, min_len=10, max_len=90)  # short curves pad: both inference functions
    monkeypatch.setattr(encoder_module, "CPU_CALL_WINDOWS", 3)  # many calls, the last one short
    monkeypatch.setattr(encoder_module, "SPLIT_FUNCTIONS_FROM_CALLS", 2)  # full windows without the mask bias
    monkeypatch.setattr(encoder_module, "cpu_calls_in_flight", lambda: 1)
    one_at_a_time = model.encode(curves)
    monkeypatch.setattr(encoder_module, "cpu_calls_in_flight", lambda: 3)
    for a, b in zip(model.encode(curves), one_at_a_time, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [len(a) for a in one_at_a_time] == [len(c) for c in curves]
    assert {key[1] for key in model._functions} == {True, False}  # padded and full windows both ran


def test_a_job_of_few_calls_runs_one_masked_function_with_the_same_numbers(monkeypatch, rng):
    model = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=8, max_obs=32, mode="legacy", seed=9)
    curves = synthetic_curves(9, rng, min_len=10, max_len=90)  # padded and full windows
    monkeypatch.setattr(encoder_module, "CPU_CALL_WINDOWS", 3)
    one_function = model.encode(curves)  # fewer calls than SPLIT_FUNCTIONS_FROM_CALLS
    assert set(model._functions) == {("encode", True)}  # one trace
    monkeypatch.setattr(encoder_module, "SPLIT_FUNCTIONS_FROM_CALLS", 2)
    split = model.encode(curves)
    assert set(model._functions) == {("encode", True), ("encode", False)}
    for a, b in zip(one_function, split, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_encode_calls_have_one_shape_and_a_short_last_call_changes_nothing(monkeypatch, rng):
    model = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=8, max_obs=32, mode="legacy", seed=8)
    curves = synthetic_curves(7, rng, min_len=10, max_len=90)
    one_call = model.encode(curves)  # every window in one call of its own size
    rows, compiled = [], model._compiled

    def recording(which, masked=True):
        fn = compiled(which, masked)
        return lambda batch: (rows.append(len(batch["input"])), fn(batch))[1]

    monkeypatch.setattr(model, "_compiled", recording)
    monkeypatch.setattr(encoder_module, "CPU_CALL_WINDOWS", 5)
    monkeypatch.setattr(encoder_module, "cpu_calls_in_flight", lambda: 2)
    padded = model.encode(curves)
    n_windows = sum(len(range(0, len(c), 32)) for c in curves)
    assert n_windows % 5 and len(rows) == -(-n_windows // 5) > 1  # several calls, the last one short ...
    assert set(rows) == {5}  # ... filled up to the others' shape
    for a, b in zip(padded, one_call, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_in_order_starts_the_next_job_while_the_caller_uses_a_result():
    import threading
    import time

    started = []
    lock = threading.Lock()

    def run(i):
        with lock:
            started.append(i)
        time.sleep(0.01)
        return i

    results = encoder_module.in_order(run, [(i,) for i in range(6)], 2)
    assert next(results) == 0
    # the caller is busy with result 0: job 2 starts meanwhile (job 1 was already running) ...
    deadline = time.monotonic() + 10
    while len(started) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    with lock:
        assert started == [0, 1, 2]  # ... and no job beyond it before the caller asks
    assert list(results) == [1, 2, 3, 4, 5]


def test_in_order_yields_every_result_in_submission_order_with_calls_in_flight():
    import threading
    import time

    running, peak = [0], [0]
    lock = threading.Lock()

    def run(i, delay):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(delay)
        with lock:
            running[0] -= 1
        return i

    jobs = [(i, 0.02 * (5 - i)) for i in range(5)]  # later jobs finish first
    assert list(encoder_module.in_order(run, jobs, 2)) == [0, 1, 2, 3, 4]
    assert peak[0] == 2


def test_a_train_step_is_traced_once_for_every_batch_size(rng):
    model = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=8, max_obs=32, mode="paper", seed=7)
    curves = synthetic_curves(11, rng, min_len=40, max_len=80)
    flat = Flat.from_arrays(curves)
    win = mask_windows(flat, np.arange(11), random_starts(flat.lengths, 32, rng), max_obs=32, mode="paper", rng=rng)
    trainer = Trainer(model)
    for size in (8, 3):  # a full batch, then an epoch's last, smaller one
        batch = {key: win[key][:size] for key in WINDOW_KEYS}
        trainer.train_step(batch)
        trainer.eval_step(batch)
    assert trainer.train_step.experimental_get_tracing_count() == 1
    assert trainer.eval_step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_matmul_bias_is_rows_times_kernel_plus_bias_with_its_gradients(dtype, rng):
    """bfloat16 on a CPU carries the bias inside the matmul (a row of the kernel against a column of ones):
    the same values and gradients as matmul + bias, to bfloat16's precision, and no BiasAdd left."""
    rows = tf.constant(rng.normal(size=(37, 24)), dtype)
    kernel = tf.Variable(rng.normal(size=(24, 40)).astype(np.float32))
    bias = tf.Variable(rng.normal(size=(40,)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(37, 40)), tf.float32)

    def loss(fn, x):
        return tf.reduce_sum(tf.cast(fn(x, kernel, bias), tf.float32) * weights)

    def reference(x, k, b):  # in float32, from the same (rounded) inputs
        x, k, b = (tf.cast(tf.cast(v, dtype), tf.float32) for v in (x, k, b))
        return tf.matmul(x, k) + b

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(rows)
        got, want = loss(matmul_bias, rows), loss(reference, rows)
    tol = 1e-5 if dtype == "float32" else 3e-2
    assert matmul_bias(rows, kernel, bias).dtype == dtype
    np.testing.assert_allclose(
        matmul_bias(rows, kernel, bias).numpy().astype(np.float32), reference(rows, kernel, bias), rtol=tol, atol=tol
    )
    for var in (rows, kernel, bias):
        g, w = tape.gradient(got, var), tape.gradient(want, var)
        np.testing.assert_allclose(tf.cast(g, tf.float32), tf.cast(w, tf.float32), rtol=tol, atol=tol * 10)
    graph = tf.function(matmul_bias).get_concrete_function(rows, kernel, bias).graph
    ops = {op.type for op in graph.get_operations()}
    assert ("BiasAdd" in ops) == (dtype == "float32" or gpu_visible())  # bf16 on a CPU: the bias inside the matmul


@pytest.mark.parametrize("mask_style", ["add_one", "exclude"])
def test_inference_attention_with_head_major_projections_gives_the_training_paths_numbers(mask_style, rng):
    """float32 inference on a CPU computes Q, K, V per head (no transpose of the projected rows) and folds K's
    and V's biases away (softmax ignores K's; V's joins the output bias): the same attention to 1e-5, with
    every bias non-zero and padded keys, and the path really taken (no transpose of the rows into heads)."""
    mha = MaskedSelfAttention(32, 4, mask_style)
    mha.build((None, 30, 32))
    for dense in (mha.wq, mha.wk, mha.wv, mha.dense):
        dense.bias.assign(rng.normal(size=dense.bias.shape).astype(np.float32))
    x = tf.constant(rng.normal(size=(3, 30, 32)), tf.float32)
    mask = np.zeros((3, 30, 1), np.float32)
    mask[:, 22:] = 1  # padded tails: keys the mask moves
    mask[1, 3] = 1
    mask = tf.constant(mask)

    def attend(inference):
        return tf.function(lambda x, m: mha(x, m, inference=inference))

    full, heads = attend(False), attend(True)
    np.testing.assert_allclose(heads(x, mask).numpy(), full(x, mask).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(heads(x, None).numpy(), full(x, None).numpy(), rtol=1e-5, atol=1e-5)

    def splits_rows_into_heads(fn):  # the (B, L, 3, heads, depth) -> (3, B, heads, L, depth) transpose
        graph = fn.get_concrete_function(x, mask).graph
        return any(op.type == "Transpose" and op.inputs[0].shape.rank == 5 for op in graph.get_operations())

    assert splits_rows_into_heads(full)
    assert splits_rows_into_heads(heads) == gpu_visible()
