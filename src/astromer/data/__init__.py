"""Light-curve data layer: readers, the internal store, filtering, splits, training columns, simulator.

No TensorFlow here: `astromer data ...` must start fast. May import ``astromer.core`` (never experiments or cli).
"""
