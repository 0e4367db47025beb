"""Errors that name what went wrong and where."""


class LightCurveError(ValueError):
    """A light curve that cannot be used as given; the message names the object and its source."""


class WeightsError(ValueError):
    """Weights that are missing, truncated or of another architecture; the message says where we looked."""
