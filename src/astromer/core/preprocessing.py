"""Input preparation: checks, windows of ``max_obs`` observations, normalisation, padding and masking.

Everything here is vectorised numpy over many windows at once (a window is a row); TensorFlow is only
imported by :func:`load_numpy`, which wraps the arrays in a ``tf.data.Dataset``.

Conventions (the authors' package, kept in both modes):
- ``mask_in = 1`` marks a hidden or padding position, ``0`` a visible observation;
- ``mask_out = 1`` marks a position counted in the loss;
- windows shorter than ``max_obs`` are padded at the end with zeros.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import LightCurveError
from .modes import get_mode

MAX_OBS = 200
# Magnitudes this large are catalogue sentinels (99.999, -99, 999.9 ...), never real photometry.
SENTINEL_ABS_MAG = 90.0
WINDOW_KEYS = ("input", "times", "mask_in", "mask_out", "output")  # a window batch: what every model step reads
ENCODER_INPUTS = WINDOW_KEYS[:3]  # what the encoder (and every classifier on it) is called with


# ----------------------------------------------------------------------------------------------- checks
def check_light_curve(array, object_id="<unnamed>", source=None, min_obs: int = 1) -> np.ndarray:
    """Return ``array`` as float64 (n, 3) [time, magnitude, error], or raise :class:`LightCurveError`.

    The library refuses (rather than repairs) unsorted or duplicate times: silently re-ordering a user's
    array would break the one-to-one, in-order correspondence of :meth:`SingleBandEncoder.encode`'s
    output. The readers in :mod:`astromer.data` sort and de-duplicate on ingest, with counted skips.
    """
    where = f"light curve {object_id!r}" + (f" in {source}" if source else "")
    try:
        arr = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LightCurveError(f"{where}: not a numeric array ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise LightCurveError(
            f"{where}: expected an (n_obs, 3) array with columns time, magnitude, error; got shape {arr.shape}"
        )
    n = arr.shape[0]
    if n < max(min_obs, 1):
        raise LightCurveError(f"{where}: {n} observations, fewer than the minimum of {max(min_obs, 1)}")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise LightCurveError(
            f"{where}: {rows.size} rows with NaN or infinite values (first at row {rows[0]}: {arr[rows[0]].tolist()})"
        )
    sentinel = np.abs(arr[:, 1]) >= SENTINEL_ABS_MAG
    if sentinel.any():
        rows = np.flatnonzero(sentinel)
        raise LightCurveError(
            f"{where}: {rows.size} sentinel magnitudes (|mag| >= {SENTINEL_ABS_MAG:g}, e.g. {arr[rows[0], 1]:g} "
            f"at row {rows[0]}); remove them before encoding"
        )
    if (arr[:, 2] < 0).any():
        row = int(np.flatnonzero(arr[:, 2] < 0)[0])
        raise LightCurveError(f"{where}: negative photometric error {arr[row, 2]:g} at row {row}")
    dt = np.diff(arr[:, 0])
    if (dt < 0).any():
        row = int(np.flatnonzero(dt < 0)[0]) + 1
        raise LightCurveError(
            f"{where}: times are not sorted (row {row}: {float(arr[row, 0])!r} after {float(arr[row - 1, 0])!r})"
        )
    if (dt == 0).any():
        row = int(np.flatnonzero(dt == 0)[0]) + 1
        raise LightCurveError(f"{where}: duplicate time {float(arr[row, 0])!r} at rows {row - 1} and {row}")
    return arr


def check_light_curves(arrays: Sequence, ids: Sequence | None = None, source=None, min_obs: int = 1):
    ids = list(ids) if ids is not None else [f"#{i}" for i in range(len(arrays))]
    if len(ids) != len(arrays):
        raise ValueError(f"{len(arrays)} light curves but {len(ids)} ids")
    return [check_light_curve(a, i, source, min_obs) for a, i in zip(arrays, ids)]


# ---------------------------------------------------------------------------------------------- windows
def sequential_starts(n_obs: int, max_obs: int = MAX_OBS, dedupe: bool = False) -> np.ndarray:
    """Window starts for embedding: K = floor(N/max_obs) + 1 windows, start_k = max(0, min(N-max_obs, k*max_obs)).

    The last window is [N-max_obs, N) and overlaps the previous one; for N a multiple of ``max_obs`` it is a
    duplicate, which ``dedupe=True`` drops (the authors' package keeps it).
    """
    k = np.arange(n_obs // max_obs + 1)
    starts = np.maximum(0, np.minimum(n_obs - max_obs, k * max_obs))
    return np.unique(starts) if dedupe else starts


def all_window_starts(lengths, max_obs: int = MAX_OBS) -> tuple[np.ndarray, np.ndarray]:
    """(curve index, start) of every sequential window of every curve (:func:`sequential_starts` with
    ``dedupe``), vectorised: the paper's pretraining epoch ("every window of every training curve")."""
    lengths = np.asarray(lengths, dtype=np.int64)
    exact = (lengths >= max_obs) & (lengths % max_obs == 0)  # the overlapping last window would repeat one
    counts = lengths // max_obs + 1 - exact
    index = np.repeat(np.arange(lengths.size), counts)
    k = np.arange(index.size) - np.repeat(np.cumsum(counts) - counts, counts)
    starts = np.maximum(0, np.minimum(lengths[index] - max_obs, k * max_obs))
    return index, starts.astype(np.int64)


def random_starts(lengths: np.ndarray, max_obs: int, rng: np.random.Generator) -> np.ndarray:
    """One random contiguous window per curve: start uniform on {0..N-max_obs}, or 0 for short curves."""
    lengths = np.asarray(lengths)
    span = np.maximum(lengths - max_obs, 0) + 1
    return np.floor(rng.random(lengths.size) * span).astype(np.int64)


class Flat:
    """Many light curves as flat columns plus offsets (curve i is rows offsets[i]:offsets[i+1])."""

    def __init__(self, offsets, time, mag):
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.time = np.asarray(time)
        self.mag = np.asarray(mag)

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> Flat:
        lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        if len(arrays):
            stacked = np.concatenate([np.asarray(a, dtype=np.float64)[:, :2] for a in arrays])
        else:
            stacked = np.zeros((0, 2))
        return cls(offsets, stacked[:, 0], stacked[:, 1])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def starts(self) -> np.ndarray:
        """Row of each curve's first observation (what the window gather needs; a view over training
        columns on disk, astromer.data.columns, has it but no contiguous offsets)."""
        return self.offsets[:-1]

    def __len__(self) -> int:
        return self.offsets.size - 1


def _gather(flat: Flat, index: np.ndarray, starts: np.ndarray, max_obs: int, float32_raw: bool):
    lengths = np.minimum(flat.lengths[index] - starts, max_obs)
    pos = np.arange(max_obs)
    valid = pos[None, :] < lengths[:, None]
    rows = flat.starts[index][:, None] + starts[:, None] + np.where(valid, pos[None, :], 0)
    dtype = np.float32 if float32_raw else np.float64
    # gather, then cast: the same values, and never a cast (a copy) of a whole column held on disk
    times = flat.time[rows].astype(dtype, copy=False)
    mags = flat.mag[rows].astype(dtype, copy=False)
    return times, mags, valid, lengths


def _masked_mean(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Row means over ``keep`` positions, accumulated in order in the array's dtype.

    In-order float32 accumulation is what the authors' ``tf.reduce_mean`` gave on the reference windows
    (numpy's pairwise sums differ by up to 0.08 d on MJDs, which moves embeddings visibly); ``cumsum`` is
    strictly sequential.
    """
    total = np.cumsum(np.where(keep, x, x.dtype.type(0)), axis=1, dtype=x.dtype)[:, -1]
    count = np.maximum(keep.sum(axis=1), 1).astype(x.dtype)
    return total / count


def make_windows(flat: Flat, index, starts, max_obs: int = MAX_OBS, mode="legacy") -> dict:
    """Cut, centre and pad windows; every valid observation visible (``mask_in=0``) and counted (``mask_out=1``).

    Times and magnitudes are centred on the window's own mean (no scaling), as the authors' package does.
    """
    mode = get_mode(mode)
    index = np.asarray(index, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    times, mags, valid, lengths = _gather(flat, index, starts, max_obs, mode.float32_raw)
    times = times - _masked_mean(times, valid)[:, None]
    mags = mags - _masked_mean(mags, valid)[:, None]
    validf = valid.astype(np.float32)
    zero = np.zeros((), dtype=np.float32)
    times = np.where(valid, times, 0).astype(np.float32)
    mags = np.where(valid, mags, 0).astype(np.float32)
    return {
        "input": mags[..., None],
        "times": times[..., None],
        "mask_in": (1.0 - validf)[..., None] + zero,
        "mask_out": validf[..., None],
        "output": mags[..., None].copy(),
        "length": lengths.astype(np.int32),
        "index": index,
        "start": starts,
    }


def mask_counts(n_valid: np.ndarray, msk_frac: float, rnd_frac: float, same_frac: float, mode) -> tuple:
    """Numbers of target, same and random positions per window.

    legacy: nmask = int(float32(n)*msk), same = ceil(same*nmask), random = ceil(rnd*(nmask-same))
    (100 targets of 200 give 20 same + 16 random + 64 hidden); paper: same = round(same*nmask),
    random = round(rnd*nmask) (20 + 20 + 60), as the paper describes the 50/20/20 scheme.
    """
    mode = get_mode(mode)
    n_valid = np.asarray(n_valid)
    nmask = (n_valid.astype(np.float32) * np.float32(msk_frac)).astype(np.int64)
    if mode.legacy_mask_counts:
        n_same = np.ceil(np.float32(same_frac) * nmask.astype(np.float32)).astype(np.int64)
        n_rand = np.ceil(np.float32(rnd_frac) * (nmask - n_same).astype(np.float32)).astype(np.int64)
    else:
        n_same = np.rint(same_frac * nmask).astype(np.int64)
        n_rand = np.rint(rnd_frac * nmask).astype(np.int64)
    n_rand = np.minimum(n_rand, nmask - n_same)
    return nmask, n_same, n_rand


def _mask_roles(valid, nmask, n_same, n_rand, rng: np.random.Generator):
    """(target, same, random) positions: a random order of each window's valid positions, whose first
    ``nmask`` entries are the targets, the first ``n_same`` of those kept and the next ``n_rand`` replaced."""
    n_win, max_obs = valid.shape
    keys = np.where(valid, rng.random((n_win, max_obs)), np.inf)
    order = np.argsort(keys, axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(max_obs)[None, :].repeat(n_win, 0), axis=1)
    target = rank < nmask[:, None]
    same = rank < n_same[:, None]
    random_ = (rank >= n_same[:, None]) & (rank < (n_same + n_rand)[:, None])
    return target, same, random_


def _replacements(mags, pool, rng: np.random.Generator):
    """(a replacement magnitude per position drawn from the window's ``pool`` positions, windows with an
    empty pool)."""
    n_win, max_obs = pool.shape
    pool_n = pool.sum(axis=1)
    pool_order = np.argsort(np.where(pool, rng.random((n_win, max_obs)), np.inf), axis=1)
    pick = np.floor(rng.random((n_win, max_obs)) * np.maximum(pool_n, 1)[:, None]).astype(np.int64)
    source = np.take_along_axis(pool_order, pick, axis=1)
    return np.take_along_axis(mags, source, axis=1), pool_n[:, None] == 0


def mask_windows(
    flat: Flat,
    index,
    starts,
    msk_frac=0.5,
    rnd_frac=0.2,
    same_frac=0.2,
    max_obs: int = MAX_OBS,
    mode="paper",
    rng: np.random.Generator | None = None,
) -> dict:
    """Windows with BERT-style masking for (pre)training.

    Of ``msk_frac`` of each window's observations (the loss targets, ``mask_out=1``) a fraction keeps its
    true value and stays visible ("same"), a fraction is replaced by another magnitude and stays visible
    ("random"), the rest is hidden (``mask_in=1``).

    legacy: hidden positions keep their true value in ``input`` (the model then adds +1 to their attention
    logits), replacements come from a permutation of the whole window, and windows are centred on all
    observations. paper: hidden values are zeroed, the window is centred on the visible true values only
    and replacements are drawn from visible context, so nothing about a hidden value reaches the encoder.
    """
    mode = get_mode(mode)
    rng = rng if rng is not None else np.random.default_rng()
    index = np.asarray(index, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    times, raw, valid, lengths = _gather(flat, index, starts, max_obs, mode.float32_raw)
    nmask, n_same, n_rand = mask_counts(lengths, msk_frac, rnd_frac, same_frac, mode)

    target, same, random_ = _mask_roles(valid, nmask, n_same, n_rand, rng)
    hidden = target & ~same & ~random_
    context = valid & ~target  # visible, never a target

    times = times - _masked_mean(times, valid)[:, None]
    if mode.center_on_visible:
        mean = _masked_mean(raw, valid & ~hidden & ~random_)
    else:
        mean = _masked_mean(raw, valid)
    mags = raw - mean[:, None]

    # Replacements come from any valid position (legacy permutation) or a context position.
    replacement, no_pool = _replacements(mags, context if mode.random_from_visible else valid, rng)
    hidden = hidden | (random_ & no_pool)  # nothing visible to copy from: hide instead
    random_ = random_ & ~no_pool

    inputs = np.where(random_, replacement, mags)
    if mode.hide_masked_input:
        inputs = np.where(hidden, 0, inputs)
    return {
        "input": np.where(valid, inputs, 0).astype(np.float32)[..., None],
        "times": np.where(valid, times, 0).astype(np.float32)[..., None],
        "mask_in": (hidden | ~valid).astype(np.float32)[..., None],
        "mask_out": (target & valid).astype(np.float32)[..., None],
        "output": np.where(valid, mags, 0).astype(np.float32)[..., None],
        "length": lengths.astype(np.int32),
        "index": index,
        "start": starts,
    }


def prepare_windows(arrays, max_obs: int = MAX_OBS, window: str = "first", rng=None, mode="legacy") -> dict:
    """Encoder-ready windows of a list of (n, 3) arrays, every observation visible.

    window: ``first`` (one window from the first observation), ``random`` (one random window per curve)
    or ``all`` (the sequential windows of :func:`sequential_starts`, duplicates dropped).
    ``index`` says which curve each window came from.
    """
    flat = arrays if isinstance(arrays, Flat) else Flat.from_arrays(arrays)
    n = len(flat)
    if window == "first":
        index, starts = np.arange(n), np.zeros(n, dtype=np.int64)
    elif window == "random":
        rng = rng if rng is not None else np.random.default_rng()
        index, starts = np.arange(n), random_starts(flat.lengths, max_obs, rng)
    elif window == "all":
        per = [sequential_starts(int(length), max_obs, dedupe=True) for length in flat.lengths]
        index = np.repeat(np.arange(n), [p.size for p in per])
        starts = np.concatenate(per) if per else np.zeros(0, dtype=np.int64)
    else:
        raise ValueError(f"window must be 'first', 'random' or 'all', not {window!r}")
    return make_windows(flat, index, starts, max_obs, mode)


def iter_batches(windows: dict, batch_size: int, keys: Iterable[str] = WINDOW_KEYS):
    n = len(windows["input"])
    for lo in range(0, n, batch_size):
        yield {k: windows[k][lo : lo + batch_size] for k in keys}


def without_autotune(dataset):
    """``dataset`` with tf.data's autotuning off, for a pipeline made again every epoch: a new iterator per
    epoch, and deleting one waited for the autotuning thread, 0.2-0.3 s in one epoch out of two or three
    (2 cores: a demo-size pretraining epoch 0.4 s, 0.7 s with the wait). The pipelines here have no
    parallel map to tune; a ``prefetch(AUTOTUNE)`` still grows its buffer (its own, older tuning)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def load_numpy(
    data,
    batch_size: int = 256,
    msk_frac: float = 0.5,
    rnd_frac: float = 0.2,
    same_frac: float = 0.2,
    max_obs: int = MAX_OBS,
    sampling: bool = True,
    shuffle: bool = False,
    mode="paper",
    seed: int | None = None,
    min_obs: int = 1,
):
    """A ``tf.data.Dataset`` of window batches from a list of (n, 3) arrays (the paper's API, Sect. 9).

    With ``sampling=True`` each curve gives one random window (training, Fig. 7 of the paper), else its
    sequential windows (embedding). With ``msk_frac > 0`` the windows are masked for (pre)training.
    Batches are dicts of float32 (B, max_obs, 1) ``input``, ``times``, ``mask_in``, ``mask_out``, ``output``
    and int32 ``length``. The arrays are checked first (:func:`check_light_curve`).
    The dataset remembers its curves and settings (:func:`dataset_source`): ``SingleBandEncoder.fit`` trains
    on them with a fresh random window and masking per epoch (see its docstring).
    """
    import tensorflow as tf

    arrays = check_light_curves(data, min_obs=min_obs)
    flat = Flat.from_arrays(arrays)
    rng = np.random.default_rng(seed)
    if sampling:
        index = np.arange(len(flat))
        starts = random_starts(flat.lengths, max_obs, rng)
    else:
        per = [sequential_starts(int(n), max_obs) for n in flat.lengths]
        index = np.repeat(np.arange(len(flat)), [p.size for p in per])
        starts = np.concatenate(per)
    if msk_frac > 0:
        win = mask_windows(flat, index, starts, msk_frac, rnd_frac, same_frac, max_obs, mode, rng)
    else:
        win = make_windows(flat, index, starts, max_obs, mode)
    tensors = {k: win[k] for k in (*WINDOW_KEYS, "length")}
    ds = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        ds = ds.shuffle(len(index), seed=seed)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    setattr(ds, _SOURCE_ATTRIBUTE, DatasetSource(arrays, batch_size, msk_frac, rnd_frac, same_frac, max_obs))
    return ds


@dataclasses.dataclass(frozen=True)
class DatasetSource:
    """What a :func:`load_numpy` dataset was made from: its checked curves and its batch and masking settings."""

    curves: list
    batch_size: int
    msk_frac: float
    rnd_frac: float
    same_frac: float
    max_obs: int


_SOURCE_ATTRIBUTE = "_astromer_source"


def dataset_source(obj) -> DatasetSource | None:
    """The source of a dataset :func:`load_numpy` returned (None for anything else, including a dataset
    transformed after load_numpy: ``.map``/``.take`` ... make a new dataset that does not carry it)."""
    return getattr(obj, _SOURCE_ATTRIBUTE, None)


def n_windows_legacy(n_obs: int, max_obs: int = MAX_OBS) -> int:
    return math.floor(n_obs / max_obs) + 1
