"""``SingleBandEncoder``: the paper's public API (Sect. 9) over the Keras 3 model."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from ..errors import LightCurveError, WeightsError
from ..io import atomic_path
from . import checkpoint, preprocessing
from .devices import cpu_calls_in_flight, gpu_visible
from .layers import MODEL_DEFAULTS, Encoder, RegressionHead
from .modes import get_mode

_D = MODEL_DEFAULTS


def build_model(
    num_layers=_D["num_layers"],
    d_model=_D["d_model"],
    num_heads=_D["num_heads"],
    dff=_D["dff"],
    dropout=_D["dropout"],
    max_obs=_D["max_obs"],
    mode=_D["mode"],
    dtype=None,
) -> keras.Model:
    """The full ASTROMER model: windows {input, times, mask_in} -> reconstructed magnitudes (B, L, 1)."""
    inputs = {k: keras.Input((max_obs, 1), name=k) for k in preprocessing.ENCODER_INPUTS}
    encoder = Encoder(num_layers, d_model, num_heads, dff, dropout, get_mode(mode).name, name="encoder", dtype=dtype)
    head = RegressionHead(name="regression", dtype=dtype)
    outputs = head(encoder(inputs))
    return keras.Model(inputs, outputs, name="astromer")


# Windows per model call on a CPU; calls run at once: devices.cpu_calls_in_flight (two 16-window calls in
# flight keep both cores busy through each call's elementwise ops, where one larger call leaves a core waiting:
# measured on a 2-core Xeon, float32 encode: 400 windows/s with one 32-window call at a time, 485 with two
# 16-window calls). Inference only (each window is computed alone), so the numbers do not change. A GPU takes
# the caller's batch_size, one call at a time.
CPU_CALL_WINDOWS = 16
# Calls from which a job that mixes full and padded windows traces the function without the mask bias for its
# full ones: that bias costs ~3% of a call (measured, published weights, 2-core Xeon: 625-649 against 650-675
# windows/s, ~25 ms a 16-window call), a second trace and first call ~0.15 s: the bias it skips pays for the
# trace from about 200 calls.
SPLIT_FUNCTIONS_FROM_CALLS = 256


def call_windows(batch_size: int) -> int:
    return batch_size if gpu_visible() else max(1, min(batch_size, CPU_CALL_WINDOWS))


def in_order(run, jobs: list, in_flight: int):
    """``run(*job)`` for each job, at most ``in_flight`` running at once in threads, results yielded in
    order (TensorFlow releases the GIL while a call runs)."""
    if in_flight <= 1 or len(jobs) <= 1:
        yield from (run(*job) for job in jobs)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pending = deque()
    with ThreadPoolExecutor(in_flight) as pool:
        for job in jobs:
            pending.append(pool.submit(run, *job))
            # one job queued beyond those running: a worker starts it while the caller still uses a result
            if len(pending) > in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _batched(n: int, batch_size: int):
    for lo in range(0, n, batch_size):
        yield lo, min(n, lo + batch_size)


def call_rows(lo: int, hi: int, size: int, n: int):
    """The rows a model call computes for windows lo:hi of n: those rows, or, for a short last call of several,
    ``size`` rows (lo:hi, then copies of row hi - 1) so that every call has one shape (a new shape costs new
    oneDNN primitives and an XLA LayerNorm compile, ~0.1 s on a CPU; each window is computed alone, so the
    copies change nothing and their outputs are dropped). A single call keeps its own size."""
    if hi - lo == size or n <= size:
        return slice(lo, hi)
    return np.minimum(np.arange(lo, lo + size), hi - 1)


class SingleBandEncoder:
    """ASTROMER for single-band light curves.

    >>> model = SingleBandEncoder.from_pretraining("weights/astromer_macho_v0")   # doctest: +SKIP
    >>> embeddings = model.encode([lc1, lc2])   # one (n_obs, d_model) array per curve, in input order

    ``mode`` is ``"paper"`` (default for new models) or ``"legacy"`` (the authors' package; what the
    published weights need and what :meth:`from_pretraining` selects for them). See the README's table.
    """

    def __init__(
        self,
        num_layers: int = _D["num_layers"],
        d_model: int = _D["d_model"],
        num_heads: int = _D["num_heads"],
        dff: int = _D["dff"],
        dropout: float = _D["dropout"],
        max_obs: int = _D["max_obs"],
        mode: str = _D["mode"],
        dtype=None,
        model=None,
        seed: int | None = None,
    ):
        if seed is not None:  # initial weights and dropout masks reproducible
            keras.utils.set_random_seed(seed)
        self.config = {
            "num_layers": int(num_layers),
            "d_model": int(d_model),
            "num_heads": int(num_heads),
            "dff": int(dff),
            "dropout": float(dropout),
            "max_obs": int(max_obs),
            "mode": get_mode(mode).name,
        }
        self.model = model if model is not None else build_model(**self.config, dtype=dtype)
        self._functions = {}  # inference tf.functions by (which, masked)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ access
    @property
    def mode(self):
        return get_mode(self.config["mode"])

    @property
    def max_obs(self) -> int:
        return self.config["max_obs"]

    @property
    def encoder(self) -> Encoder:
        return self.model.get_layer("encoder")

    @property
    def head(self) -> RegressionHead:
        return self.model.get_layer("regression")

    # --------------------------------------------------------------------------------------- weights
    @classmethod
    def from_pretraining(
        cls, path, mode: str | None = None, dropout: float | None = None, dtype=None
    ) -> SingleBandEncoder:
        """Load pretrained weights: a local folder, ``.keras`` file or zip, or the name of the authors'
        published weights (``"macho"``, as in the paper's Sect. 9; see :mod:`astromer.core.weights`).

        A name that is not an existing path resolves to a local cache folder (``$ASTROMER_WEIGHTS_DIR/<name>``,
        default ``~/.cache/astromer/weights/<name>``), downloaded once from the authors' weights repository
        and checked file by file against the SHA-256s recorded in the library. A path is never downloaded.
        The authors' TF checkpoint (``weights.index`` + ``conf.json``, e.g. the published MACHO weights)
        gives a *legacy*-mode model unless ``mode`` says otherwise; our ``.keras`` files keep their mode.
        """
        from . import weights

        kind, located = checkpoint.locate(weights.resolve(path))
        if kind == "keras":
            loaded = cls.load(located)
            if dtype is not None:
                loaded = loaded.with_dtype(dtype)
            if mode is not None and mode != loaded.config["mode"]:
                raise WeightsError(f"{located} holds a {loaded.config['mode']}-mode model, not {mode}")
            return loaded
        conf = checkpoint.read_authors_config(located)
        if dropout is not None:
            conf["dropout"] = dropout
        instance = cls(**conf, mode=mode or "legacy", dtype=dtype)
        checkpoint.load_authors_weights(located, instance.encoder, instance.head)
        return instance

    def with_dtype(self, dtype) -> SingleBandEncoder:
        """The same weights under another precision policy (None/"float32" or "mixed_bfloat16")."""
        other = type(self)(**self.config, dtype=dtype)
        other.model.set_weights(self.model.get_weights())
        return other

    @classmethod
    def load(cls, path) -> SingleBandEncoder:
        path = Path(path)
        if not path.is_file():
            raise WeightsError(f"no model file at {path}")
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # keras raises many types for corrupt zips and configs
            raise WeightsError(f"{path}: not a readable ASTROMER .keras model ({type(exc).__name__}: {exc})") from None
        try:
            enc = model.get_layer("encoder")
        except ValueError:
            raise WeightsError(f"{path}: a Keras model without an ASTROMER 'encoder' layer") from None
        conf = enc.get_config()
        return cls(
            num_layers=conf["num_layers"],
            d_model=conf["d_model"],
            num_heads=conf["num_heads"],
            dff=conf["dff"],
            dropout=conf["dropout"],
            max_obs=int(model.inputs[0].shape[1]),
            mode=conf["mode"],
            model=model,
        )

    def save(self, path) -> Path:
        """Write ``.keras`` atomically (temp file in the same folder, then rename)."""
        with atomic_path(path, suffix=".keras") as tmp:
            self.model.save(tmp)
        return Path(path)

    # ------------------------------------------------------------------------------------ inference
    def _compiled(self, which: str, masked: bool = True):
        """The inference function (``"encode"`` or ``"predict"``); ``masked=False`` for batches without a
        hidden or padded position (their attention skips the mask bias, which is 0 there). One tf.function
        per kind, made under a lock: calls run in threads."""
        import tensorflow as tf

        with self._lock:
            if (which, masked) not in self._functions:
                spec = {k: tf.TensorSpec((None, self.max_obs, 1), tf.float32) for k in preprocessing.ENCODER_INPUTS}
                encoder, head = self.encoder, self.head

                def encode(d):
                    return encoder(d, training=False, masked=masked)

                def predict(d):
                    return head(encode(d))

                function = tf.function(encode if which == "encode" else predict, input_signature=[spec])
                self._functions[(which, masked)] = function
            return self._functions[(which, masked)]

    def _batches(self, which: str, windows: dict, batch_size: int):
        """(lo, hi, float32 model output of windows lo:hi), a model call's worth of windows at a time."""

        n, size = len(windows["input"]), call_windows(batch_size)
        jobs = list(_batched(n, size))
        # the function without the mask bias only for calls without a hidden or padded position; a job of
        # few calls uses the masked one throughout when it has one such window (the same numbers: the bias is 0
        # on the other rows), since a second function's trace costs more than the bias it would skip
        one_function = len(jobs) < SPLIT_FUNCTIONS_FROM_CALLS and bool(np.any(windows["mask_in"]))

        def call(lo, hi):
            rows = call_rows(lo, hi, size, n)
            batch = {k: np.asarray(windows[k][rows], dtype=np.float32) for k in preprocessing.ENCODER_INPUTS}
            fn = self._compiled(which, masked=one_function or bool(batch["mask_in"].any()))
            return lo, hi, np.asarray(fn(batch), dtype=np.float32)[: hi - lo]

        yield from in_order(call, jobs, 1 if gpu_visible() else cpu_calls_in_flight())

    def _run(self, which: str, windows: dict, batch_size: int) -> np.ndarray:
        n = len(windows["input"])
        width = self.config["d_model"] if which == "encode" else 1
        out = np.empty((n, self.max_obs, width), dtype=np.float32)
        for lo, hi, values in self._batches(which, windows, batch_size):
            out[lo:hi] = values
        return out

    def encode_windows(self, times, magnitudes, mask_in, batch_size: int = 256) -> np.ndarray:
        """Embeddings (n_windows, max_obs, d_model) of prepared (n_windows, max_obs, 1) windows."""
        windows = {"times": times, "input": magnitudes, "mask_in": mask_in}
        for key, value in windows.items():
            if np.shape(value)[1:] != (self.max_obs, 1):
                raise ValueError(f"{key}: expected shape (n_windows, {self.max_obs}, 1), got {np.shape(value)}")
        return self._run("encode", windows, batch_size)

    def reconstruct(self, windows: dict, batch_size: int = 256) -> np.ndarray:
        """The regression head's output (n_windows, max_obs, 1) for prepared windows."""
        return self._run("predict", windows, batch_size)

    def encode(
        self, light_curves: Sequence, batch_size: int = 256, ids: Sequence | None = None, min_obs: int = 1
    ) -> list[np.ndarray]:
        """One (n_obs, d_model) float32 array per light curve, rows aligned with the input rows, in input order.

        Each curve (columns time, magnitude, error; times strictly increasing, finite, no sentinels) is cut
        into the sequential windows of the authors' package: [0, L), [L, 2L), ..., and a last window
        [N-L, N) that overlaps the one before it. An observation that lies in two windows takes its
        embedding from the first window that contains it (the one where it has the context of the
        observations that precede it); the overlap only supplies the last N mod L observations. A last window
        that duplicates the previous one (N a multiple of L) is not computed.
        """
        if isinstance(light_curves, np.ndarray) and light_curves.ndim == 2:
            raise LightCurveError(
                f"encode() takes a list of light curves, got one array of shape {light_curves.shape}: "
                "pass a list of curves, e.g. encode([curve])"
            )
        arrays = preprocessing.check_light_curves(light_curves, ids, min_obs=min_obs)
        windows = preprocessing.prepare_windows(arrays, self.max_obs, window="all", mode=self.mode)
        results = [np.empty((len(a), self.config["d_model"]), dtype=np.float32) for a in arrays]
        filled = np.zeros(len(arrays), dtype=np.int64)  # rows already written, per curve
        index, starts, lengths = windows["index"], windows["start"], windows["length"]
        # each call's embeddings go straight to their curves (no (n_windows, L, d) array in between)
        for lo, hi, emb in self._batches("encode", windows, batch_size):
            for w in range(lo, hi):
                i, start, length = index[w], starts[w], lengths[w]
                first_new = filled[i] - start  # skip rows a previous window already gave
                if first_new < length:
                    results[i][start + first_new : start + length] = emb[w - lo, first_new:length]
                    filled[i] = start + length
        return results

    # -------------------------------------------------------------------------------------- training
    def fit(self, train, valid, epochs: int = 100000, **kwargs):
        """Masked-RMSE training (pretraining or fine-tuning) with early stopping and resume.

        ``train`` and ``valid`` are each a list of (n, 3) arrays or a dataset returned by
        :func:`astromer.preprocessing.load_numpy` (the paper's Sect. 9 listing). A dataset stands for its
        curves and settings: the same loop as for lists, in batches of the dataset's ``batch_size`` with its
        masking fractions, in this model's mode; each epoch draws a fresh random window and masking per
        training curve (Fig. 7), and the validation windows are drawn once. (The authors' ``load_numpy``
        caches its first pass, so their ``fit`` sees the same windows every epoch; the windows a dataset
        of ours holds are not used for training.) Keyword arguments go to :func:`astromer.core.pretraining.fit`
        (``patience``, ``batch_size``, ``lr``, ``ckpt_dir`` ...). Returns the :class:`astromer.core.fitting.History`.
        """
        from .pretraining import fit

        train, valid, kwargs = _training_inputs(self.max_obs, train, valid, kwargs)
        return fit(self, train, valid, epochs=epochs, **kwargs)


ACCEPTED_DATA = (
    "a list of (n, 3) arrays [time, magnitude, error] or a dataset returned by astromer.preprocessing.load_numpy"
)


def _training_inputs(max_obs: int, train, valid, kwargs: dict):
    """The curves and settings the training loop takes, from lists of curves or load_numpy datasets."""
    settings = {}
    curves = []
    for role, data in (("train", train), ("valid", valid)):
        source = preprocessing.dataset_source(data)
        if source is None:
            listlike = isinstance(data, (Sequence, np.ndarray, preprocessing.Flat))
            if isinstance(data, (str, bytes, dict)) or not listlike:
                dataset = hasattr(data, "element_spec")
                transformed = " (one transformed after load_numpy carries no curves)" if dataset else ""
                raise TypeError(f"fit: {role} is a {type(data).__name__}{transformed}; fit accepts {ACCEPTED_DATA}")
            batches = not isinstance(data, preprocessing.Flat) and any(isinstance(i, dict) for i in data[:1])
            if batches:  # e.g. list(dataset): window batches, not curves
                raise TypeError(f"fit: {role} is a list of dicts (window batches?); fit accepts {ACCEPTED_DATA}")
            curves.append(data)
            continue
        if source.max_obs != max_obs:
            raise ValueError(
                f"fit: the {role} dataset was made with max_obs={source.max_obs}, the model takes {max_obs}"
            )
        if source.msk_frac <= 0:
            raise ValueError(
                f"fit: the {role} dataset was made with msk_frac={source.msk_frac}: no masked "
                "observations to reconstruct (load_numpy's msk_frac > 0 makes training data)"
            )
        wanted = {"msk_frac": source.msk_frac, "rnd_frac": source.rnd_frac, "same_frac": source.same_frac}
        if role == "train":  # the validation batches' size changes no number
            wanted["batch_size"] = source.batch_size
        for key, value in wanted.items():
            for given, where in ((settings.get(key), "the training dataset"), (kwargs.get(key), f"fit({key}=...)")):
                if given is not None and given != value:
                    raise ValueError(f"fit: the {role} dataset was made with {key}={value}, but {where} says {given}")
            settings[key] = value
        curves.append(source.curves)
    return curves[0], curves[1], {**kwargs, **settings}
