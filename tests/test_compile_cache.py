"""XLA's persistent compilation cache of the command line's processes (astromer.core.compile_cache)."""

import json
import os
import subprocess
import sys

import pytest

from astromer.core import compile_cache

CPU = "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512f\n"


@pytest.fixture
def cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPU)
    return str(path)


def test_the_cache_folder_is_keyed_on_the_cpu_the_xla_flags_and_tensorflow(tmp_path, cpuinfo, monkeypatch):
    none = str(tmp_path / "no-gpus" / "*")
    base = compile_cache.cache_key({}, cpuinfo=cpuinfo, gpus=none)
    assert base is not None and base == compile_cache.cache_key({}, cpuinfo=cpuinfo, gpus=none)
    other_cpu = tmp_path / "cpuinfo2"
    other_cpu.write_text(CPU.replace("avx512f", "avx512f amx_tile"))
    assert compile_cache.cache_key({}, cpuinfo=str(other_cpu), gpus=none) != base
    assert compile_cache.cache_key({"XLA_FLAGS": "--xla_cpu_enable_fast_math=true"}, cpuinfo=cpuinfo, gpus=none) != base
    gpu = tmp_path / "gpus" / "0"
    gpu.mkdir(parents=True)
    (gpu / "information").write_text("Model: \t NVIDIA A100-SXM4-80GB\n")
    assert compile_cache.cache_key({}, cpuinfo=cpuinfo, gpus=str(tmp_path / "gpus" / "*" / "information")) != base
    monkeypatch.setattr(compile_cache, "_tensorflow_version", lambda: "tensorflow==9.9.9")
    assert compile_cache.cache_key({}, cpuinfo=cpuinfo, gpus=none) != base
    # a machine whose CPU cannot be read gets no cache rather than one it might share wrongly
    assert compile_cache.cache_key({}, cpuinfo=str(tmp_path / "missing"), gpus=none) is None


def test_enabling_sets_tf_xla_flags_unless_off_or_already_set(tmp_path, cpuinfo, monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # as in a fresh command-line process
    env = {"ASTROMER_XLA_CACHE": str(tmp_path / "cache"), "TF_XLA_FLAGS": "--tf_xla_auto_jit=0"}
    folder = compile_cache.enable_persistent_xla_cache(env, cpuinfo=cpuinfo)
    assert folder is not None and folder.is_dir() and folder.parent == tmp_path / "cache"
    assert env["TF_XLA_FLAGS"].startswith("--tf_xla_auto_jit=0 ")
    assert f"--tf_xla_persistent_cache_directory={folder}" in env["TF_XLA_FLAGS"]
    again = dict(env)
    assert compile_cache.enable_persistent_xla_cache(again, cpuinfo=cpuinfo) is None  # the user's (or parent's) own
    assert again["TF_XLA_FLAGS"] == env["TF_XLA_FLAGS"]
    off = {"ASTROMER_XLA_CACHE": "off"}
    assert compile_cache.enable_persistent_xla_cache(off, cpuinfo=cpuinfo) is None and "TF_XLA_FLAGS" not in off
    home = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert compile_cache.enable_persistent_xla_cache(home, cpuinfo=cpuinfo).parent == tmp_path / "xdg/astromer/xla"


LAYER_NORM = """
import json, sys
from astromer.cli.startup import import_tensorflow
import_tensorflow()
import numpy as np, tensorflow as tf
from astromer.core.layers import _fused_layer_norm
x = tf.constant(np.linspace(-3, 5, 7 * 8, dtype=np.float32).reshape(7, 8))
out = _fused_layer_norm(x, tf.ones(8) * 1.5, tf.zeros(8) + 0.25, tf.constant(1e-6))
print(json.dumps(out.numpy().ravel().tolist()))
"""


def test_a_later_process_loads_the_compiled_layer_norm_instead_of_compiling_it(tmp_path):
    """The command line's processes write XLA's compiled kernels under ASTROMER_XLA_CACHE; a later process with
    the same code reads them (writes nothing new) and computes the same numbers."""
    env = dict(os.environ, ASTROMER_XLA_CACHE=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_XLA_FLAGS", None)
    outputs, listings = [], []
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", LAYER_NORM], env=env, capture_output=True, text=True, check=True)
        outputs.append(json.loads(run.stdout.strip().splitlines()[-1]))
        listings.append({p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.pb")})
    assert listings[0], "the first process wrote no compiled kernel"
    assert listings[1] == listings[0]
    assert outputs[0] == outputs[1]
