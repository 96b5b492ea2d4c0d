"""Normalising the fields of frozen dataclasses while they are constructed.

A frozen dataclass forbids ``self.x = ...``; its ``__post_init__`` still has to store the
normalised form of what it was given (an array converted to float64, a mapping made read-only, a
derived attribute). :func:`settle` is the single place in the package that does this, and it may
only be called from ``__init__``, ``__post_init__`` or an ``_init_*`` helper of the class being
built (``tests/test_architecture.py`` checks every call site). Anything that changes a result
after it exists goes through :func:`dataclasses.replace`, which runs ``__post_init__`` again.
"""

from __future__ import annotations

from typing import Any

__all__ = ["settle"]


def settle(instance: Any, **fields: Any) -> None:
    """Store normalised field values on a frozen dataclass that is being constructed.

    Parameters
    ----------
    instance : dataclass instance
        The object whose ``__init__`` / ``__post_init__`` is running.
    **fields
        Field name -> normalised value.
    """
    for name, value in fields.items():
        object.__setattr__(instance, name, value)
