"""The semantic palette, the figure style and small helpers shared by the plotting functions.

Colour follows the role of a curve, never its position in a list:

- ``theory``: closed forms (lines),
- ``simulation``: simulated ensembles (markers with a shaded one-standard-error band),
- ``estimate``: estimators applied to trajectories (markers with error bars),
- ``data``: raw trajectories and logged runs (thin translucent lines).

When one panel shows several series of the same role (several batch sizes, several
information quantities), each series takes a colour from :data:`SERIES` and the role is shown by
the line style instead (theory: solid line; simulation or estimate: markers).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from .._atomic import savefig_atomic as _savefig_atomic
from ..errors import ValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from matplotlib.figure import Figure

    from .._typing import PathLike

__all__ = ["PALETTE", "SERIES", "STYLE", "style", "savefig_atomic", "get_axes", "series_color",
           "format_pm"]

#: Colour of each role (see the module docstring).
PALETTE = {
    "theory": "#1b1b1b",
    "simulation": "#1f6fb4",
    "estimate": "#d1495b",
    "data": "#6a9f3a",
}

#: Colours of several series of one role in one panel (colour-blind friendly, Okabe-Ito).
SERIES = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

#: Matplotlib settings applied while a figure is drawn by this package (readable fonts).
STYLE = {
    "font.size": 10.5,
    "axes.titlesize": 11,
    "axes.labelsize": 10.5,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.85,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 130,
    "savefig.bbox": "tight",
}

#: Time-axis labels by kind of model.
TIME_LABELS = {
    "langevin": "time t  [units of 1/A]",
    "sgd": "time t = r n  [learning rate × SGD steps]",
    "steps": "SGD step n",
}


def series_color(i: int) -> str:
    """Colour of the ``i``-th series of one role."""
    return SERIES[i % len(SERIES)]


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context in which figures get the package's :data:`STYLE`."""
    import matplotlib as mpl

    # matplotlib's stubs key rc by a Literal of the rc names; STYLE holds only such names
    with mpl.rc_context(cast("dict[Any, Any]", STYLE)):
        yield


def get_axes(ax: Any = None, *, figsize: tuple[float, float] = (5.2, 3.6), nrows: int = 1,
             ncols: int = 1, **kwargs: Any) -> Any:
    """Return ``ax`` unchanged, or a fresh figure's axes (array when more than one)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=True, **kwargs)
    return axes


def apply_tick_style(axes: Any) -> None:
    """Give existing axes the tick sizes of :data:`STYLE` (ticks are created lazily)."""
    for a in np.atleast_1d(axes).ravel():
        a.tick_params(labelsize=STYLE["xtick.labelsize"])


def savefig_atomic(fig: Figure, path: PathLike, **kwargs: Any) -> Path:
    """Save ``fig`` to ``path`` through a temporary file in the same folder and a rename.

    Readers never see a half-written image: the file appears complete or not at all.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or os.PathLike
        Destination; the format follows its suffix (``.png``, ``.pdf``, ``.svg``).
    **kwargs
        Passed to ``fig.savefig`` (default ``dpi=130, bbox_inches="tight"``).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(os.fspath(path))
    suffix = path.suffix
    if not suffix:
        raise ValidationError(
            f"path={str(path)!r} has no suffix; give one such as '.png' or '.pdf'"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("dpi", STYLE["savefig.dpi"])
    kwargs.setdefault("bbox_inches", "tight")
    kwargs.setdefault("format", suffix[1:].lower())
    return _savefig_atomic(fig, path, **kwargs)


def value_and_error(est: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(value, stderr)`` as float arrays from an Estimate, a pair or plain values."""
    if hasattr(est, "value") and hasattr(est, "stderr"):
        return np.asarray(est.value, dtype=float), np.asarray(est.stderr, dtype=float)
    if isinstance(est, tuple) and len(est) == 2:
        v, s = est
        return np.asarray(v, dtype=float), np.asarray(s, dtype=float)
    v = np.asarray(est, dtype=float)
    return v, np.full(v.shape, np.nan)


def stack_estimates(estimates: Any) -> tuple[np.ndarray, np.ndarray]:
    """Values and errors of a sequence of Estimates / pairs / numbers, as two 1-d arrays."""
    if hasattr(estimates, "value") and hasattr(estimates, "stderr"):
        v, s = value_and_error(estimates)
        return np.atleast_1d(v), np.broadcast_to(np.atleast_1d(s), np.atleast_1d(v).shape)
    if isinstance(estimates, tuple) and len(estimates) == 2 and np.ndim(estimates[0]) == 1:
        v, s = value_and_error(estimates)
        return v, np.broadcast_to(s, v.shape)
    vals, errs = [], []
    for e in estimates:
        v, s = value_and_error(e)
        vals.append(float(v))
        errs.append(float(s))
    return np.array(vals), np.array(errs)


def format_pm(value: float, stderr: float, *, mathtext: bool = False) -> str:
    r"""``value ± stderr`` with the error at its real precision (one or two significant digits).

    The error keeps two significant digits when its first digit is 1 or 2, one otherwise, and
    the value is rounded to the same decimal place: ``format_pm(-0.99123, 0.0031)`` gives
    ``'-0.991 ± 0.003'``. With ``mathtext=True`` the result is ``'-0.991 \pm 0.003'`` for use
    inside ``$...$``. A non-finite or zero error gives the value to 4 significant digits.
    """
    import math

    v, s = float(value), float(stderr)
    pm = r" \pm " if mathtext else " ± "
    if not (math.isfinite(s) and s > 0):
        return f"{v:.4g}" + ("" if math.isfinite(s) else pm + "?")
    exp10 = math.floor(math.log10(s))
    lead = int(s / 10.0**exp10)
    decimals = -exp10 + (1 if lead < 3 else 0)
    if decimals <= 0:
        return f"{round(v, decimals):.0f}{pm}{round(s, decimals):.0f}"
    return f"{v:.{decimals}f}{pm}{s:.{decimals}f}"
