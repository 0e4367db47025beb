"""The two faithful modes of ASTROMER: *legacy* (the authors' package, number for number) and *paper*.

Both modes share one code path; a :class:`ModeConfig` holds the few switches where they differ. The README
has a table of the differences. Where the paper is silent, *paper* mode follows standard transformer practice.
"""

from __future__ import annotations

import dataclasses

MODES = ("legacy", "paper")


@dataclasses.dataclass(frozen=True)
class ModeConfig:
    name: str
    pe_base: float  # positional-encoding base (authors' code: 10000; paper text: 1000)
    pe_paired: bool  # sin/cos pairs share a frequency (Vaswani); legacy gives every channel its own
    attention_mask: str  # "add_one": logits += min(1, m_i + m_j) (legacy); "exclude": hidden keys get -inf
    hide_masked_input: bool  # zero the magnitude of hidden observations inside the model
    residual: bool  # residual connections around attention and FFN (absent in the authors' code)
    dropout_in_training: bool  # the authors' train step never passes training=True
    center_on_visible: bool  # window means from visible observations only (else hidden values leak via the mean)
    random_from_visible: bool  # "random" replacements drawn from visible values (else a hidden value can be copied)
    legacy_mask_counts: bool  # ceil/int rounding of the authors' masking (20 same + 16 random of 100)
    float32_raw: bool  # cast raw times to float32 before centring (the authors' tf.data does)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


LEGACY = ModeConfig(
    name="legacy",
    pe_base=10000.0,
    pe_paired=False,
    attention_mask="add_one",
    hide_masked_input=False,
    residual=False,
    dropout_in_training=False,
    center_on_visible=False,
    random_from_visible=False,
    legacy_mask_counts=True,
    float32_raw=True,
)
PAPER = ModeConfig(
    name="paper",
    pe_base=1000.0,
    pe_paired=True,
    attention_mask="exclude",
    hide_masked_input=True,
    residual=True,
    dropout_in_training=True,
    center_on_visible=True,
    random_from_visible=True,
    legacy_mask_counts=False,
    float32_raw=False,
)


def get_mode(mode: str | ModeConfig) -> ModeConfig:
    if isinstance(mode, ModeConfig):
        return mode
    if mode == "legacy":
        return LEGACY
    if mode == "paper":
        return PAPER
    raise ValueError(f"unknown mode {mode!r}: expected one of {MODES}")
