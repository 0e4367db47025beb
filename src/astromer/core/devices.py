"""The device and the numeric precision a training run uses: chosen explicitly, checked, recorded.

No silent CPU fallback: a job that asked for a GPU and finds none visible to TensorFlow stops before it
loads any data, with a message that says how to fix the install. A job asked for a GPU when

- ``--device gpu`` (the workflow's GPU rules pass it unless the config sets ``allow_cpu: true``), or
- ``--device auto`` (the commands' default) and its environment holds a GPU allocation: Slurm's
  ``SLURM_GPUS_ON_NODE`` / ``SLURM_JOB_GPUS`` / ``SLURM_STEP_GPUS``, or a ``CUDA_VISIBLE_DEVICES`` that
  names a device.

``--device any`` runs on what TensorFlow sees (a GPU if there is one, else the CPU): the explicit switch.
Every ``metrics.json`` records ``device`` ("cpu" or the GPU's name) and ``precision``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ..errors import AstromerError

DEVICE_CHOICES = ("auto", "gpu", "any")
PRECISIONS = ("float32", "mixed_bfloat16")
# CUDA_VISIBLE_DEVICES values that hide every GPU, and Slurm's placeholder when a job has no GPU device files
NO_DEVICE = {"", "-1", "none", "nodevfiles", "void"}


def gpu_visible() -> bool:
    """Whether TensorFlow runs on a GPU here (a logical GPU device is visible): the one test behind the
    kernels chosen per device (LayerNorm, the LSTMs, micro-batches, encode's calls)."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a Slurm job's allocation)."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(cores))


def threads_per_op(threads: int) -> bool:
    """Run each TensorFlow op of this process on ``threads`` threads (TensorFlow's default: one per core), for
    a process whose work is split into parts that run at once (:func:`inference_threads`, the classifiers'
    steps). Must run before TensorFlow runs its first op; returns whether it took effect (False on a GPU, or
    once TensorFlow's runtime has started: its thread pools are fixed then)."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return False
    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, int(threads)))
    except RuntimeError:
        return False
    return True


def inference_threads() -> bool:
    """Make this process run each op on one thread, for a process that only runs inference on CPUs (``astromer
    encode``): :meth:`~astromer.core.encoder.SingleBandEncoder.encode` then keeps one model call per core
    running at once (:func:`cpu_calls_in_flight`) instead of two calls whose ops each split over every core.
    Measured on 2 cores, float32 encode of the published weights' windows: 513-595 windows/s against 485-533,
    alternating processes (the ops of a 16-window call are too small to gain from a second thread: the split
    and the join cost more). See :func:`threads_per_op` for when it takes effect."""
    return threads_per_op(1)


def cpu_calls_in_flight() -> int:
    """Model calls that inference on a CPU keeps running at once: one per usable core when each op runs on one
    thread (:func:`inference_threads`), else two (they keep both of two cores busy through each other's small
    elementwise ops; one call at a time leaves a core waiting)."""
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() == 1:
        return usable_cores()
    return 2


class DeviceError(AstromerError, RuntimeError):
    """A job asked for a GPU that TensorFlow cannot see; the message says why and how to fix it."""


def allocated_gpus(environ=None) -> str | None:
    """'NAME=value' of the first environment variable that says this job holds a GPU, else None."""
    env = os.environ if environ is None else environ
    for key in ("SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = env.get(key, "").strip()
        if value.lower() in NO_DEVICE or (key == "SLURM_GPUS_ON_NODE" and value == "0"):  # a count there
            continue
        return f"{key}={value}"
    return None


def _gpu_name(gpu) -> str:
    import tensorflow as tf

    try:
        return tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name
    except (RuntimeError, ValueError):
        return gpu.name


def _no_gpu_message(why: str) -> str:
    import tensorflow as tf

    if tf.test.is_built_with_cuda():
        build = (
            f"TensorFlow {tf.__version__} is built with CUDA but found no usable GPU: NVIDIA's CUDA "
            "wheels (the gpu extra) or the driver are missing on this node"
        )
    else:
        build = (
            f"TensorFlow {tf.__version__} here is a CPU-only build (e.g. tensorflow-cpu, or an environment "
            "made before the gpu extra)"
        )
    return (
        f"this job asked for a GPU ({why}) but TensorFlow sees none: {build}. It stops rather than train on the "
        "CPU. Fix the install the job runs in: pip uninstall -y tensorflow-cpu; pip install -e '.[gpu]' "
        "(tensorflow[and-cuda]), or run Snakemake with --sdm conda (envs/cuda.yaml on the GPU rules); check on a "
        "GPU node with: python -c \"import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))\". "
        "To train on the CPU on purpose set allow_cpu: true in the config (astromer: --device any)."
    )


def select_device(choice: str = "auto", environ=None) -> str:
    """The device this run trains on, as recorded in metrics.json: "cpu" or the first GPU's name (TensorFlow
    places ops there). Raises DeviceError when a GPU was asked for and none is visible."""
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {DEVICE_CHOICES}, not {choice!r}")
    allocation = allocated_gpus(environ)
    why = "--device gpu" if choice == "gpu" else (f"{allocation} with --device auto" if choice == "auto" else None)
    requested = choice == "gpu" or (choice == "auto" and allocation is not None)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        name = _gpu_name(gpus[0])
        print(
            f"device: {name} (TensorFlow sees {len(gpus)} GPU{'s' if len(gpus) > 1 else ''})",
            file=sys.stderr,
            flush=True,
        )
        return name
    if requested:
        raise DeviceError(_no_gpu_message(why))
    print(f"device: cpu (no GPU visible to TensorFlow; --device {choice})", file=sys.stderr, flush=True)
    return "cpu"


def resolve_precision(choice: str):
    """None (float32) or "mixed_bfloat16". "auto" (an explicit choice, never a default: it makes results
    depend on the hardware) picks mixed_bfloat16 on a GPU or a CPU with AVX512-BF16/AMX, else float32.
    bench/bench_vs_reference.py measured mixed bf16 training 1.4x faster than float32 on a 2-core
    AVX512-BF16 CPU; without bf16 hardware it is slower."""
    if choice != "auto":
        if choice not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS} or auto, not {choice!r}")
        return None if choice == "float32" else choice
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "mixed_bfloat16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else None


@contextlib.contextmanager
def precision_policy(precision):
    """Keras's global dtype policy set to ``precision`` (None = float32) while the block runs, then restored:
    the layers built inside compute in that precision (`astromer batch` runs later commands unaffected)."""
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision or "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)
