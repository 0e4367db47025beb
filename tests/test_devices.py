"""No silent CPU fallback: a training job that asked for a GPU stops at once when TensorFlow sees none;
with the CPU switch (--device any, the config's allow_cpu: true) it runs and records device and precision."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from astromer.cli import main
from astromer.core.devices import allocated_gpus, precision_policy, select_device

from workflow_support import REPO

TINY = '{"num_layers": 1, "d_model": 16, "num_heads": 2, "dff": 16, "max_obs": 40}'
GPU_ENV = ("SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES")


def _tf_sees_a_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


needs_no_gpu = pytest.mark.skipif("_tf_sees_a_gpu()", reason="TensorFlow sees a GPU here: nothing to fall back from")


@pytest.fixture(autouse=True)
def no_gpu_allocation(monkeypatch):
    """The tests decide what the job's environment allocated (a test run inside a Slurm job must not leak in)."""
    for key in GPU_ENV:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def stores(tmp_path_factory, unlabeled_pool):
    from astromer.data.simulate.simulator import simulate_to_store

    root = tmp_path_factory.mktemp("devices")
    (root / "pool").symlink_to(unlabeled_pool / "store", target_is_directory=True)
    (root / "pool.csv").symlink_to(unlabeled_pool / "split.csv")
    labeled = simulate_to_store(root / "labeled", "macho", "labeled", seed=3, per_class=6)
    rows = []
    for label, group in labeled.metadata.groupby("label"):
        ids = group["id"].tolist()
        rows += [(i, label, "train") for i in ids[:3]] + [(i, label, "val") for i in ids[3:4]]
        rows += [(i, label, "test") for i in ids[4:6]]
    pd.DataFrame(rows, columns=["id", "label", "split"]).to_csv(root / "labeled.csv", index=False)
    return root


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, None),
        ({"SLURM_GPUS_ON_NODE": "1"}, "SLURM_GPUS_ON_NODE=1"),
        ({"SLURM_GPUS_ON_NODE": "0"}, None),  # a count: 0 GPUs on this node
        ({"SLURM_JOB_GPUS": "0"}, "SLURM_JOB_GPUS=0"),  # an index list: GPU number 0
        ({"CUDA_VISIBLE_DEVICES": "0,1"}, "CUDA_VISIBLE_DEVICES=0,1"),
        ({"CUDA_VISIBLE_DEVICES": ""}, None),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, None),
        ({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, None),
    ],
)
def test_a_gpu_allocation_is_read_from_slurm_and_cuda_variables(env, expected):
    assert allocated_gpus(env) == expected


@needs_no_gpu
@pytest.mark.parametrize("choice, env", [("gpu", {}), ("auto", {"SLURM_JOB_GPUS": "2"})])
def test_asking_for_a_gpu_without_one_is_an_error_that_says_how_to_fix_it(choice, env):
    from astromer.core.devices import DeviceError

    with pytest.raises(DeviceError) as err:
        select_device(choice, environ=env)
    message = str(err.value)
    assert "asked for a GPU" in message and "TensorFlow sees none" in message
    assert "pip install -e '.[gpu]'" in message and "--sdm conda" in message and "allow_cpu: true" in message
    assert ("SLURM_JOB_GPUS=2" in message) == (choice == "auto")


@needs_no_gpu
def test_without_a_request_the_cpu_is_used_and_named():
    assert select_device("auto", environ={}) == "cpu"
    assert select_device("any", environ={"SLURM_JOB_GPUS": "0"}) == "cpu"  # the explicit CPU switch wins


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
@needs_no_gpu
def test_pretrain_in_a_gpu_allocation_without_gpu_tensorflow_exits_2_before_reading_data(tmp_path):
    """The real command, as a Slurm GPU job would start it: exit status 2 and the message, and nothing
    read or written (the store given does not even exist: reading it would be a different error)."""
    env = dict(os.environ, SLURM_GPUS_ON_NODE="1", PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "tests")]))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "astromer",
            "pretrain",
            "--data",
            str(tmp_path / "no_store"),
            "--split",
            str(tmp_path / "no_split.csv"),
            "--out",
            str(tmp_path / "out"),
            "--ckpt-dir",
            str(tmp_path / "ck"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 2, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "asked for a GPU (SLURM_GPUS_ON_NODE=1 with --device auto)" in errors[0], run.stderr[
        -2000:
    ]
    assert not (tmp_path / "out").exists() and not (tmp_path / "ck").exists()


@needs_no_gpu
@pytest.mark.parametrize("command", ["pretrain", "finetune", "classify", "lr-search"])
def test_every_training_command_fails_fast_with_device_gpu(stores, tmp_path, capsys, command):
    out = tmp_path / "out"
    if command in ("pretrain", "finetune"):
        argv = [
            command,
            "--data",
            str(stores / "pool"),
            "--split",
            str(stores / "pool.csv"),
            "--out",
            str(out),
            "--ckpt-dir",
            str(tmp_path / "ck"),
            "--epochs",
            "1",
            "--model-config",
            TINY,
            "--device",
            "gpu",
        ]
        argv += ["--init", str(tmp_path / "absent.keras")] if command == "finetune" else []
    else:
        argv = [
            command,
            "--data",
            str(stores / "labeled"),
            "--split",
            str(stores / "labeled.csv"),
            "--out",
            str(out),
            "--ckpt-dir",
            str(tmp_path / "ck"),
            "--epochs",
            "1",
            "--max-obs",
            "40",
            "--device",
            "gpu",
        ]
        argv += ["--classifier", "lstm"] if command == "classify" else ["--lrs", "1e-3"]
    assert main(argv) == 2
    assert "asked for a GPU (--device gpu)" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "ck").exists()


@needs_no_gpu
def test_a_batch_stops_at_a_command_that_finds_no_gpu(stores, tmp_path, capsys):
    line = (
        f"classify --data {stores / 'labeled'} --split {stores / 'labeled.csv'} --classifier lstm "
        f"--out {tmp_path / 'out'} --epochs 1 --max-obs 40 --device gpu"
    )
    assert main(["batch", line]) == 2
    assert "asked for a GPU" in capsys.readouterr().err


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_with_the_cpu_switch_pretrain_runs_and_records_device_and_precision(stores, tmp_path):
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(stores / "pool"),
                "--split",
                str(stores / "pool.csv"),
                "--out",
                str(tmp_path / "pre"),
                "--ckpt-dir",
                str(tmp_path / "ck"),
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--model-config",
                TINY,
                "--device",
                "any",
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "pre" / "metrics.json").read_text())
    assert metrics["device"] == ("cpu" if not _tf_sees_a_gpu() else metrics["device"]) and metrics["device"]
    assert metrics["precision"] == "float32"  # the default, whatever this CPU's instruction set


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_with_the_cpu_switch_classify_runs_and_records_device_and_precision(stores, tmp_path, precision):
    import keras

    from astromer import SingleBandEncoder

    SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, max_obs=40, seed=0).save(tmp_path / "enc.keras")
    for classifier in ("mlp_att", "rf"):
        out = tmp_path / classifier
        assert (
            main(
                [
                    "classify",
                    "--data",
                    str(stores / "labeled"),
                    "--split",
                    str(stores / "labeled.csv"),
                    "--classifier",
                    classifier,
                    "--encoder",
                    str(tmp_path / "enc.keras"),
                    "--encoder-mode",
                    "trained",
                    "--out",
                    str(out),
                    "--epochs",
                    "1",
                    "--batch-size",
                    "8",
                    "--max-obs",
                    "40",
                    "--device",
                    "any",
                    "--precision",
                    precision,
                ]
            )
            == 0
        )
        metrics = json.loads((out / "metrics.json").read_text())
        if not _tf_sees_a_gpu() or classifier == "rf":
            assert metrics["device"] == "cpu"
        # the random forest has no bf16 path: it records what it ran in
        assert metrics["precision"] == (precision if classifier != "rf" else "float32")
    assert keras.config.dtype_policy().name == "float32"  # a later command in a batch starts from float32


def test_precision_policy_sets_the_layers_compute_dtype_and_restores_it():
    import keras

    with precision_policy("mixed_bfloat16"):
        inside = keras.layers.Dense(2)
    outside = keras.layers.Dense(2)
    assert (inside.compute_dtype, inside.variable_dtype) == ("bfloat16", "float32")
    assert outside.compute_dtype == "float32" and keras.config.dtype_policy().name == "float32"


# ---------------------------------------------------------------- the workflow passes the config's choice
def _training_commands(*snakemake_args) -> list[list[str]]:
    """Every astromer training command of a dry run (the commands inside `astromer batch` included)."""
    import shlex

    from workflow_support import dry_run

    result, _ = dry_run("-p", *snakemake_args)
    assert result.returncode == 0, result.stderr[-2000:]
    commands = []
    for line in (result.stdout + result.stderr).splitlines():
        line = line.removeprefix("Shell command: ").strip()
        if not line.startswith("astromer "):
            continue
        words = shlex.split(line.split(" > ")[0])[1:]
        for argv in [shlex.split(c) for c in words[1:]] if words[0] == "batch" else [words]:
            if argv[0] in ("pretrain", "finetune", "classify", "lr-search"):
                commands.append(argv)
    return commands


def _flag(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.mark.parametrize(
    "config_args, device, precision",
    [
        # the paper on A100s: a GPU is required; bf16 for the encoder's training, float32 for the classifiers
        (
            ("--profile", "profiles/slurm", "--config", "surveys=[ogle]"),
            "gpu",
            {"pretrain": "mixed_bfloat16", "finetune": "mixed_bfloat16", "classify": "float32", "lr-search": "float32"},
        ),
        # the demo on a laptop: the CPU on purpose, float32 everywhere
        (
            ("--profile", "profiles/local", "--configfile", "config/demo.yaml"),
            "any",
            {"pretrain": "float32", "finetune": "float32", "classify": "float32", "lr-search": "float32"},
        ),
    ],
)
@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_gpu_rules_pass_the_configs_device_and_precision(config_args, device, precision):
    commands = _training_commands(*config_args)
    assert {argv[0] for argv in commands} == set(precision), commands[:3]
    for argv in commands:
        if argv[0] == "classify" and _flag(argv, "--classifier") == "rf":  # a CPU rule: no device to ask for
            assert "--device" not in argv and "--precision" not in argv, argv
            continue
        assert (_flag(argv, "--device"), _flag(argv, "--precision")) == (device, precision[argv[0]]), argv


def test_allow_cpu_switch_turns_the_gpu_requirement_off():
    commands = _training_commands("--profile", "profiles/slurm", "--config", "surveys=[ogle]", "allow_cpu=True")
    assert commands and {_flag(argv, "--device") for argv in commands} == {"any"}


def _fresh_python(code: str, **environ) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", **environ)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return proc.stdout.split()


@needs_no_gpu
def test_an_inference_process_runs_one_thread_per_op_and_one_call_per_core():
    out = _fresh_python(
        "import os\n"
        "from astromer.core.devices import cpu_calls_in_flight, inference_threads\n"
        "import tensorflow as tf\n"
        "print(inference_threads(), tf.config.threading.get_intra_op_parallelism_threads(), cpu_calls_in_flight(),"
        " len(os.sched_getaffinity(0)))\n"
    )
    assert out[:2] == ["True", "1"]
    assert out[2] == out[3]  # one model call in flight per usable core


@needs_no_gpu
def test_a_classifier_process_gives_each_op_the_cores_of_one_step_part():
    """classify and lr-search run each op on cores / CPU_STEP_PARTS threads (at least one), so that the parts
    of a step run at once, one beside the other; threads set in the environment (the workflow's tf_threads)
    stay as set."""
    code = (
        "import os\n"
        "from astromer.core.classifiers.training import CPU_STEP_PARTS, classifier_threads\n"
        "import tensorflow as tf\n"
        "classifier_threads()\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(), len(os.sched_getaffinity(0)), CPU_STEP_PARTS)\n"
    )
    threads, cores, parts = (int(v) for v in _fresh_python(code))
    assert threads == max(1, cores // parts)
    threads, _, _ = (int(v) for v in _fresh_python(code, TF_NUM_INTRAOP_THREADS="3"))
    assert threads == 0  # not set by the process: TensorFlow takes the environment's 3


def test_once_tensorflow_runs_the_threads_stay_as_they_are_and_a_batch_starts_it_first():
    """inference_threads() after TensorFlow's first op changes nothing (two calls in flight, as before); an
    `astromer batch` starts TensorFlow before its first command, so an encode line cannot make the training
    commands after it one thread per op."""
    out = _fresh_python(
        "from astromer.core.devices import cpu_calls_in_flight, inference_threads\n"
        "import tensorflow as tf\n"
        "tf.constant(1.0) + 1.0\n"
        "print(inference_threads(), tf.config.threading.get_intra_op_parallelism_threads(), cpu_calls_in_flight())\n"
    )
    assert out == ["False", "0", "2"]
    out = _fresh_python(
        "from astromer.cli import _run_batch\n"
        "from astromer.core.devices import inference_threads\n"
        "assert _run_batch([]) == 0\n"
        "print(inference_threads())\n"
    )
    assert out == ["False"]
