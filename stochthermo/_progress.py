"""``progress=`` in one meaning everywhere: a flag, or a tqdm-like factory.

Every function that reports progress takes ``progress`` as ``False``/``None`` (silent), ``True``
(a :class:`tqdm.tqdm` bar; needs the ``progress`` extra) or a factory called like ``tqdm``:
``progress(total=..., desc=..., unit=...)`` returning an object with ``update(n)``,
``set_description(text)`` and ``close()`` (``tqdm.auto.tqdm``, ``functools.partial(tqdm,
file=...)``, or your own class). :func:`progress_bar` turns the argument into such a bar.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._validation import short_repr
from .errors import ValidationError

if TYPE_CHECKING:
    from ._typing import ProgressLike

__all__ = ["progress_bar", "message_bar", "shared_bar"]


def _is_factory(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called as ``fn(total=..., desc=..., unit=...)``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume tqdm-like
        return True
    names = {p.name for p in params}
    return "total" in names or any(p.kind is p.VAR_KEYWORD for p in params)


class _LegacyBar:
    """A callable of the old kind (count or message) behind the bar interface."""

    def __init__(self, fn: Callable[[Any], Any], kind: str) -> None:
        self._fn, self._kind = fn, kind

    def update(self, n: int = 1) -> None:
        if self._kind == "count":
            self._fn(n)

    def set_description(self, text: str) -> None:
        if self._kind == "message":
            self._fn(text)

    def close(self) -> None:
        pass


def progress_bar(progress: ProgressLike, *, total: int, desc: str, unit: str = "it",
                 legacy: str | None = None) -> Any:
    """The bar asked for by ``progress=`` (see the module docstring), or None when silent.

    Parameters
    ----------
    progress : bool, callable or None
        ``False``/``None``: no bar; ``True``: ``tqdm(total=, desc=, unit=)``; a factory: called
        with those keywords.
    total : int
        Number of units of work.
    desc, unit : str
        Label and unit of the bar.
    legacy : {"count", "message"}, optional
        What a plain callable meant at this call site before ``progress=`` had one meaning (a
        callable of the count done, or of a message); such a callable still works for one
        release, with a ``DeprecationWarning``.

    Returns
    -------
    object or None
        Something with ``update(n)``, ``set_description(text)`` and ``close()``.
    """
    if progress is None or progress is False:
        return None
    if isinstance(progress, _Shared):
        return progress
    if progress is True:
        from ._optional import require

        return require("tqdm", "progress", "progress bars").tqdm(total=total, desc=desc,
                                                                  unit=unit)
    if not callable(progress):
        raise ValidationError(
            f"progress={short_repr(progress)} must be True/False or a tqdm-like factory "
            "called as progress(total=..., desc=..., unit=...)"
        )
    if legacy is not None and not _is_factory(progress):
        warnings.warn(
            f"progress= as a callable of the {legacy} is deprecated and will stop working in the "
            "next release; pass True or a tqdm-like factory called as progress(total=..., "
            "desc=..., unit=...)", DeprecationWarning, stacklevel=3)
        return _LegacyBar(progress, legacy)
    return progress(total=total, desc=desc, unit=unit)


class _MessageBar:
    """A bar that reports each new description as a line of text (for logs and the CLI)."""

    def __init__(self, report: Callable[[str], Any], desc: str) -> None:
        self._report, self._desc = report, desc

    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, text: str) -> None:
        self._report(text)

    def close(self) -> None:
        pass


def message_bar(report: Callable[[str], Any]) -> Callable[..., Any]:
    """A ``progress=`` factory whose bars call ``report(text)`` at each new description.

    For output that is not a terminal: stage messages instead of a redrawn bar, e.g.
    ``progress=message_bar(print)``.
    """

    def factory(*, total: int | None = None, desc: str = "", unit: str = "it") -> _MessageBar:
        return _MessageBar(report, desc)

    return factory


class _Shared:
    """An open bar handed to a nested call: it counts there and is closed by its owner."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set_description(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def shared_bar(bar: Any) -> Any:
    """``bar`` as a ``progress=`` argument of a nested call (it will not close it)."""
    return None if bar is None else _Shared(bar)
