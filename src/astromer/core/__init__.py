"""The ASTROMER model: modes, layers, the encoder, weights, windows, the training loop, pretraining and the
classifiers. Imports only ``astromer.errors`` and ``astromer.io`` (and ``astromer.download`` for published
weights) outside itself; no pandas, matplotlib or argparse (tests/test_architecture.py)."""
