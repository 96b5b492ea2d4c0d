r"""Markov jump processes on a finite state space, general and bipartite.

Convention (``theory/jump.md`` [JP-def]): ``W[i, j]`` is the rate of the jump ``j -> i``
(column = origin, row = destination); the master equation is
:math:`\dot p_i = \sum_{j \ne i} (W_{ij} p_j - W_{ji} p_i)`; diagonals of the input are ignored.
A bipartite process on pairs ``(x, y)`` is stored with the joint index ``s = x * ny + y``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._frozen import settle
from .._validation import as_float_array, short_repr
from ..errors import ModelError, ShapeError, ValidationError

if TYPE_CHECKING:
    from .._typing import ArrayLike

__all__ = ["MarkovJump", "BipartiteJump", "MAX_STATES", "MIN_RATE", "MAX_RATE"]

#: Largest state space accepted (dense ``(n, n)`` rate matrices; 4096 states = 128 MiB).
MAX_STATES = 4096
#: Range of positive rates accepted (keeps rate x probability products finite in float64).
MIN_RATE, MAX_RATE = 1e-100, 1e100


def _check_rates(name: str, W: np.ndarray):
    """Non-negative finite off-diagonal rates, with a reverse rate wherever a forward one exists."""
    if np.any(W < 0):
        idx = tuple(int(i) for i in np.argwhere(W < 0)[0])
        raise ValidationError(
            f"{name} has the negative rate {float(W[idx])!r} at index {idx}; rates must be >= 0 "
            "(zero means 'no such jump')"
        )
    pos = W[W > 0]
    if pos.size and (pos.min() < MIN_RATE or pos.max() > MAX_RATE):
        bad = pos.min() if pos.min() < MIN_RATE else pos.max()
        raise ValidationError(
            f"{name} has the rate {float(bad)!r}; positive rates must lie in [{MIN_RATE:g}, "
            f"{MAX_RATE:g}] so that products of rates and probabilities stay finite: change "
            "the time unit, or set a negligible rate and its reverse to 0 (no such jump)"
        )
    one_way = (W > 0) & (W.T == 0)
    if np.any(one_way):
        i, j = (int(v) for v in np.argwhere(one_way)[0])
        raise ModelError(
            f"{name}: the jump {j} -> {i} has rate {float(W[i, j])!r} but its reverse "
            f"{i} -> {j} has rate 0, so the entropy production is infinite; give every "
            "allowed jump a positive reverse rate (local detailed balance needs both)"
        )


def _components(W: np.ndarray) -> np.ndarray:
    """Connected-component label of each state in the undirected graph of ``W > 0``."""
    n = W.shape[0]
    adj = (W > 0) | (W.T > 0)
    label = np.full(n, -1, dtype=np.int64)
    comp = 0
    for start in range(n):
        if label[start] >= 0:
            continue
        frontier = np.zeros(n, dtype=bool)
        frontier[start] = True
        label[start] = comp
        while frontier.any():
            reach = adj[:, frontier].any(axis=1) & (label < 0)
            label[reach] = comp
            frontier = reach
        comp += 1
    return label


def _check_irreducible(name: str, W: np.ndarray, describe=str):
    label = _components(W)
    if label.max(initial=0) > 0:
        lonely = [describe(int(s)) for s in np.flatnonzero(label != label[0])[:4]]
        raise ModelError(
            f"{name} is not irreducible: the states {lonely}... cannot be reached from "
            f"{describe(0)}, so the stationary distribution is not unique; add jumps that connect "
            "every state (or model the parts separately)"
        )


@dataclass(frozen=True, eq=False, init=False)
class MarkovJump:
    r"""A continuous-time Markov jump process on ``n`` states.

    Parameters
    ----------
    W : array_like, shape (n, n)
        ``W[i, j]`` is the rate of the jump ``j -> i`` (>= 0, finite); the diagonal is ignored.
        Every jump with a positive rate needs a positive reverse rate, and every state must be
        reachable (irreducible).
    reservoirs : array_like of int, shape (n, n), optional
        Reservoir label of each jump (``reservoirs[i, j]`` for ``j -> i``, the same for both
        directions). Local detailed balance: a jump ``j -> i`` through reservoir ``r`` sends the
        entropy :math:`\ln(W_{ij} / W_{ji})` into ``r`` [JP-ldb]. Default: one reservoir.

    Notes
    -----
    Master equation :math:`\dot p = W p` with the diagonal set to minus the exit rates
    [JP-def] (``theory/jump.md``).

    Examples
    --------
    >>> import stochthermo as st
    >>> m = st.MarkovJump([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0], [1.0, 2.0, 0.0]])
    >>> m.n_states, m.n_reservoirs
    (3, 1)
    """

    # the normalised values: read-only rates (zero diagonal) and int64 labels
    W: np.ndarray
    reservoirs: np.ndarray

    def __init__(self, W: ArrayLike, reservoirs: ArrayLike | None = None) -> None:
        W = as_float_array("W", W, ndim=2)
        n = W.shape[0]
        if W.shape != (n, n) or n < 2:
            raise ShapeError(
                f"W must be a square (n, n) matrix with n >= 2 states, got shape {W.shape}"
            )
        if n > MAX_STATES:
            raise ValidationError(
                f"W has {n} states; at most {MAX_STATES} are supported (dense rate matrices)"
            )
        W = W.copy()
        np.fill_diagonal(W, 0.0)
        _check_rates("W", W)
        _check_irreducible("W", W, self._describe)
        res = self._labels(n, W, reservoirs)
        W.setflags(write=False)
        res.setflags(write=False)
        settle(self, W=W, reservoirs=res)

    def _describe(self, s: int) -> object:
        return s

    def _labels(self, n: int, W: np.ndarray, reservoirs: ArrayLike | None) -> np.ndarray:
        if reservoirs is None:
            return np.zeros((n, n), dtype=np.int64)
        raw = np.asarray(reservoirs)
        if raw.shape != (n, n):
            raise ShapeError(f"reservoirs must have shape ({n}, {n}) like W, got {raw.shape}")
        whole = raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw))
        if raw.dtype.kind not in "iu" and not whole:
            raise ValidationError(
                f"reservoirs={short_repr(raw)} must hold integer labels 0, 1, ... (one per jump)"
            )
        res = raw.astype(np.int64)
        used = W > 0
        if np.any(res[used] < 0):
            raise ValidationError("reservoirs must be >= 0 on every jump with a positive rate")
        if np.any(res[used] != res.T[used]):
            i, j = (int(v) for v in np.argwhere(used & (res != res.T))[0])
            raise ValidationError(
                f"reservoirs[{i}, {j}] = {res[i, j]} but reservoirs[{j}, {i}] = {res[j, i]}; a "
                "jump and its reverse exchange entropy with the same reservoir"
            )
        if used.any() and res[used].max() >= n * n:
            raise ValidationError(
                f"reservoirs holds the label {int(res[used].max())}, but a model with {n} "
                f"states has fewer than {n * n} jumps to label (every label makes a reservoir "
                "and an output column); number the reservoirs 0, 1, 2, ..."
            )
        res = np.where(used, res, 0)
        return np.ascontiguousarray(res)

    @property
    def n_states(self) -> int:
        """Number of states ``n``."""
        return self.W.shape[0]

    @property
    def dim(self) -> int:
        """Dimension of the state as saved by ``stochthermo.simulate``: 1 (the state index)."""
        return 1

    @property
    def n_reservoirs(self) -> int:
        """Number of reservoirs (largest label + 1)."""
        return int(self.reservoirs.max(initial=0)) + 1

    @property
    def generator(self) -> np.ndarray:
        """The generator ``W - diag(exit rates)`` (columns sum to zero)."""
        G = np.array(self.W)
        G[np.diag_indices_from(G)] = -G.sum(axis=0)
        return G

    @property
    def exit_rates(self) -> np.ndarray:
        """Total rate out of each state, shape ``(n,)``."""
        return self.W.sum(axis=0)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_states={self.n_states}, "
                f"W={short_repr(self.W, 60)}, n_reservoirs={self.n_reservoirs})")


def _rate_block(name: str, value, outer: str) -> np.ndarray:
    arr = as_float_array(name, value, ndim=3)
    k, a, b = arr.shape
    if a != b or a < 1 or k < 1:
        raise ShapeError(
            f"{name} must have shape (n_{outer}, n, n) with square last two axes "
            f"({name}[{outer}, to, from]), got {arr.shape}"
        )
    return arr


class BipartiteJump(MarkovJump):
    r"""A bipartite jump process on pairs ``(x, y)``: every jump changes x or y, never both.

    Parameters
    ----------
    wx : array_like, shape (ny, nx, nx)
        ``wx[y, x_to, x_from]``: rate of the x-jump ``x_from -> x_to`` at fixed ``y``.
    wy : array_like, shape (nx, ny, ny)
        ``wy[x, y_to, y_from]``: rate of the y-jump at fixed ``x``.

    Notes
    -----
    The joint state ``(x, y)`` has index ``s = x * ny + y``; x-jumps exchange entropy with
    reservoir 0, y-jumps with reservoir 1 [JP-bip] (``theory/jump.md``). Validation as for
    :class:`MarkovJump` on the joint rate matrix (non-negative, finite, reversible jumps,
    irreducible).

    Examples
    --------
    >>> import stochthermo as st
    >>> m = st.BipartiteJump.sensor(w=1.0, a=4.0, b=0.5)
    >>> m.nx, m.ny, m.n_states
    (2, 2, 4)
    """

    # set in __init__ (besides the joint W and reservoirs): the sizes and read-only rate blocks
    nx: int
    ny: int
    wx: np.ndarray
    wy: np.ndarray

    def __init__(self, wx: ArrayLike, wy: ArrayLike) -> None:
        wx_ = _rate_block("wx", wx, "y")
        wy_ = _rate_block("wy", wy, "x")
        ny, nx = wx_.shape[0], wx_.shape[1]
        if wy_.shape != (nx, ny, ny):
            raise ShapeError(
                f"wx has shape {wx_.shape} (ny={ny}, nx={nx}), so wy must have shape "
                f"({nx}, {ny}, {ny}) (wy[x, y_to, y_from]), got {wy_.shape}"
            )
        if nx * ny > MAX_STATES:
            raise ValidationError(
                f"nx * ny = {nx * ny} states; at most {MAX_STATES} are supported"
            )
        wx_, wy_ = wx_.copy(), wy_.copy()
        for arr in (wx_, wy_):
            for k in range(arr.shape[0]):
                np.fill_diagonal(arr[k], 0.0)
        for nm, arr in (("wx", wx_), ("wy", wy_)):
            if np.any(arr < 0):
                idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
                raise ValidationError(
                    f"{nm} has the negative rate {float(arr[idx])!r} at index {idx}; rates "
                    "must be >= 0"
                )
        n = nx * ny
        W = np.zeros((n, n))
        res = np.zeros((n, n), dtype=np.int64)
        xs, ys = np.arange(nx), np.arange(ny)
        for y in ys:
            idx = xs * ny + y
            W[np.ix_(idx, idx)] = wx_[y]
        for x in xs:
            idx = x * ny + ys
            W[np.ix_(idx, idx)] = wy_[x]
            res[np.ix_(idx, idx)] = 1
        settle(self, nx=nx, ny=ny)
        one_way = (W > 0) & (W.T == 0)
        if np.any(one_way):
            i, j = (int(v) for v in np.argwhere(one_way)[0])
            (xi, yi), (xj, yj) = self.state(i), self.state(j)
            kind = f"wx[{yi}, {xi}, {xj}]" if yi == yj else f"wy[{xi}, {yi}, {yj}]"
            rev = f"wx[{yi}, {xj}, {xi}]" if yi == yj else f"wy[{xi}, {yj}, {yi}]"
            raise ModelError(
                f"{kind} = {float(W[i, j])!r} is positive but its reverse {rev} is 0, so the "
                "entropy production is infinite; give every allowed jump a positive reverse rate"
            )
        wx_.setflags(write=False)
        wy_.setflags(write=False)
        settle(self, wx=wx_, wy=wy_)
        super().__init__(W, res)

    def _describe(self, s: int) -> object:
        return self.state(s)

    def _labels(self, n: int, W: np.ndarray, reservoirs: ArrayLike | None) -> np.ndarray:
        res = np.asarray(reservoirs, dtype=np.int64)
        return np.ascontiguousarray(np.where(W > 0, res, 0))

    def index(self, x: int, y: int) -> int:
        """Joint index ``x * ny + y`` of the state ``(x, y)``."""
        return int(x) * self.ny + int(y)

    def state(self, s: int) -> tuple[int, int]:
        """The pair ``(x, y)`` of joint index ``s``."""
        return divmod(int(s), self.ny)

    @classmethod
    def sensor(cls, w: float, a: float, b: float) -> BipartiteJump:
        r"""The 4-state sensor: a sensor ``x`` learns a binary signal ``y`` [JP-sensor].

        The signal flips at rate ``w`` whatever the sensor does; the sensor jumps to the
        signal's value (aligns) at rate ``a`` and away from it (misaligns) at rate ``b``. The
        sensor ``x`` is the learner: its information flow is positive when ``a > b``.
        """
        from .._validation import positive_float

        w, a, b = positive_float("w", w), positive_float("a", a), positive_float("b", b)
        wx = np.zeros((2, 2, 2))
        for y in range(2):
            wx[y, y, 1 - y] = a
            wx[y, 1 - y, y] = b
        wy = np.zeros((2, 2, 2))
        for x in range(2):
            wy[x, 0, 1] = wy[x, 1, 0] = w
        return cls(wx, wy)

    def __repr__(self) -> str:
        return (f"BipartiteJump(nx={self.nx}, ny={self.ny}, wx={short_repr(self.wx, 50)}, "
                f"wy={short_repr(self.wy, 50)})")
