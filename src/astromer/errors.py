"""Errors that name what went wrong and where. Every error of the library derives from AstromerError, so
the command line turns each into one ``error: ...`` line and exit status 2."""


class AstromerError(Exception):
    """Base of the library's errors: the message names the object and the file concerned."""


class LightCurveError(AstromerError, ValueError):
    """A light curve that cannot be used as given; the message names the object and its source."""


class WeightsError(AstromerError, ValueError):
    """Weights that are missing, truncated or of another architecture; the message says where we looked."""


class WriteError(AstromerError, OSError):
    """An output that cannot be written (full disk, no permission): ``cannot write <path>: <reason>``."""

    def __init__(self, path, reason):
        reason = getattr(reason, "strerror", None) or str(reason)
        super().__init__(f"cannot write {path}: {reason}")
        self.path = str(path)


class UsageError(AstromerError, ValueError):
    """Command-line values that cannot be used as given (the message names the option and the value)."""


class RunInputError(AstromerError, ValueError):
    """Inputs of a run (split tables, stores, options) that do not fit together; the message names the file."""
