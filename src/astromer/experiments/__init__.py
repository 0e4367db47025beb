"""The paper's experiments: classification runs, results, metrics, the RF baseline, the masking-leak study,
figures and tables. May import ``astromer.core`` and ``astromer.data``, never ``astromer.cli``."""
