"""Exception hierarchy of stochthermo.

Every error the library raises on purpose derives from :class:`StochThermoError`, so a caller
can catch them all at once. Input errors also derive from :class:`ValueError` (or
:class:`TypeError`), so code written against the standard exceptions keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = [
    "StochThermoError",
    "ValidationError",
    "ShapeError",
    "ModelError",
    "UnstableModelError",
    "SimulationError",
    "EstimationError",
    "InsufficientDataError",
    "BridgeError",
    "UnsafeFileError",
    "CorruptFileError",
    "MissingDependencyError",
    "ResourceError",
    "DamagedStoreError",
]


class StochThermoError(Exception):
    """Base class of every error raised on purpose by stochthermo."""


class ValidationError(StochThermoError, ValueError):
    """An argument has a bad value; the message names the argument, the value and the fix."""


class ShapeError(ValidationError):
    """An array argument has the wrong shape."""


class ModelError(StochThermoError, ValueError):
    """A model is well formed but the requested quantity does not exist for it."""


class UnstableModelError(ModelError):
    """The drift matrix (or the discrete update map) is not stable: no stationary state."""


class SimulationError(StochThermoError, RuntimeError):
    """A simulation failed (e.g. a trajectory blew up to inf/NaN).

    Attributes
    ----------
    step, trajectory : int or None
        Where the failure was detected, when known.
    partial : object or None
        Whatever had been computed before the failure.
    """

    def __init__(self, message: str, *, step: int | None = None, trajectory: int | None = None,
                 partial: Any = None) -> None:
        super().__init__(message)
        self.step = step
        self.trajectory = trajectory
        self.partial = partial


class EstimationError(StochThermoError, ValueError):
    """An estimator cannot produce a meaningful value from the data it was given."""


class InsufficientDataError(EstimationError):
    """Too little data for a reliable estimate; ``partial`` carries the estimate obtained so far."""

    def __init__(self, message: str, *, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


class BridgeError(StochThermoError, ValueError):
    """A training log or checkpoint could not be read."""


class UnsafeFileError(BridgeError):
    """A file asks to run code (e.g. a pickle global outside the allow-list); nothing was run."""


class CorruptFileError(BridgeError):
    """A file is truncated, malformed or fails its checksum."""


class MissingDependencyError(StochThermoError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""


class ResourceError(StochThermoError, ValueError):
    """A request would need more memory, time or disk than allowed; nothing was started.

    The message names the request, the estimated cost and a way to cut it (``save_every``,
    ``record_every``, ``reduce="moments"``, an on-disk store, numeric values for symbolic entries).
    """


class DamagedStoreError(CorruptFileError):
    """An on-disk ensemble has missing or damaged chunks; ``chunks`` lists their indices."""

    def __init__(self, message: str, *, chunks: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.chunks = tuple(chunks)
