"""Options shared by the training commands (pretrain, finetune, classify, lr-search)."""

from __future__ import annotations

from ..core.devices import DEVICE_CHOICES

DEVICE_HELP = (
    "gpu: stop at once (exit 2) unless TensorFlow sees a GPU; any: run on what TensorFlow sees, "
    "the CPU included; auto (default): gpu inside a GPU allocation (Slurm GPUs or CUDA_VISIBLE_DEVICES "
    "set), else any"
)


def add_device_option(p) -> None:
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help=DEVICE_HELP)


def add_resume_options(p) -> None:
    """--restart and --keep-checkpoint, shared by every training command."""
    p.add_argument(
        "--restart",
        action="store_true",
        help="train from scratch even if an interrupted state of this run is in --ckpt-dir (kept aside)",
    )
    p.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="keep the resume state after the outputs are written (default: deleted)",
    )
