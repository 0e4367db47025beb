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


def add_schedule_options(p, patience: int) -> None:
    """--epochs and --patience, or the same in gradient steps (--max-steps, --patience-steps), which win."""
    p.add_argument("--epochs", type=int, default=100000, help="epoch cap (a safety net: early stopping decides)")
    p.add_argument("--patience", type=int, default=patience, help="epochs without a lower validation loss")
    p.add_argument(
        "--patience-steps",
        type=int,
        default=None,
        help="patience in gradient steps: ceil(N / steps per epoch) epochs, whatever the training set's size",
    )
    p.add_argument("--max-steps", type=int, default=None, help="epoch cap in gradient steps (as --patience-steps)")
