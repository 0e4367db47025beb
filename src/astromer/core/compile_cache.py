"""XLA's persistent compilation cache for a process, keyed on what compiled the code.

The classifiers' and encoders' LayerNorm runs as an XLA kernel on CPUs (:func:`astromer.core.layers.layer_norm_rows`),
compiled at its first call for each batch shape: in an MLP+ATT classify run at the demo's size the train step's
first call took 0.58 s, of which about 0.3 s was that compilation (2 cores). TensorFlow can keep compiled XLA
kernels on disk and load them in later processes (``--tf_xla_persistent_cache_directory``): the same run then
took 8.4 s instead of 9.1 s, with the same numbers. Every workflow job is such a later process.

TensorFlow keys an entry on the compiled HLO, its signature and the device type, not on TensorFlow's version
nor on the processor the code was built for, so a cache shared by the nodes of a cluster could hand one node
code built for another's instruction set. Each cache therefore lives in a folder named by a digest of the
TensorFlow version, the CPU's model and flags, the NVIDIA GPUs' models and the XLA flags set in the
environment; where the CPU cannot be read (no ``/proc/cpuinfo``) no cache is used. TensorFlow writes each entry
to a temporary file and renames it into place, so concurrent jobs never read half an entry, and it checks that
a loaded entry's HLO equals the one being compiled.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys
from pathlib import Path

ENV_VAR = "ASTROMER_XLA_CACHE"  # a folder, or off / 0 / none to disable
OFF = ("", "0", "off", "none", "false")
PERSISTENT_FLAG = "--tf_xla_persistent_cache_directory"


def _tensorflow_version() -> str | None:
    from importlib import metadata

    for name in ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tf-nightly"):
        try:
            return f"{name}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def _cpu_identity(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The first processor's model name and instruction-set flags; None where they cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "flags", "Features", "CPU part") and key not in fields:
            fields[key] = " ".join(sorted(value.split()))
    return repr(sorted(fields.items())) if fields else None


def _gpu_identity(pattern: str = "/proc/driver/nvidia/gpus/*/information") -> str:
    models = []
    for path in sorted(glob.glob(pattern)):
        try:
            models += [line.strip() for line in Path(path).read_text().splitlines() if line.startswith("Model")]
        except OSError:
            continue
    return repr(models)


def cache_key(environ=None, cpuinfo: str = "/proc/cpuinfo", gpus: str = "/proc/driver/nvidia/gpus/*/information"):
    """A digest of what the cached code depends on besides its HLO; None where it cannot be told."""
    environ = os.environ if environ is None else environ
    version, cpu = _tensorflow_version(), _cpu_identity(cpuinfo)
    if version is None or cpu is None:
        return None
    parts = [version, cpu, _gpu_identity(gpus), environ.get("XLA_FLAGS", ""), environ.get("TF_XLA_FLAGS", "")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def default_root(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "astromer" / "xla"


def enable_persistent_xla_cache(environ=None, **identity) -> Path | None:
    """Before TensorFlow is imported: point XLA's persistent cache (through ``TF_XLA_FLAGS``) at
    ``$ASTROMER_XLA_CACHE/<key>`` (default ``~/.cache/astromer/xla/<key>``; :func:`cache_key`). Returns the
    folder, or None where no cache is used: ``ASTROMER_XLA_CACHE=off``, a cache already set in
    ``TF_XLA_FLAGS`` (left as it is), TensorFlow already imported, the key unknown, or the folder not writable."""
    environ = os.environ if environ is None else environ
    setting = environ.get(ENV_VAR)
    if setting is not None and setting.strip().lower() in OFF:
        return None
    flags = environ.get("TF_XLA_FLAGS", "")
    if PERSISTENT_FLAG in flags or "tensorflow" in sys.modules:
        return None
    key = cache_key(environ, **identity)
    if key is None:
        return None
    folder = (Path(setting) if setting else default_root(environ)) / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    environ["TF_XLA_FLAGS"] = f"{flags} {PERSISTENT_FLAG}={folder} --tf_xla_persistent_cache_prefix=astromer".strip()
    return folder
