r"""SymPy closed forms of small Markov jump processes, general and bipartite.

The same quantities as :mod:`stochthermo.exact` computes numerically for a
:class:`~stochthermo.MarkovJump` / :class:`~stochthermo.BipartiteJump`, derived exactly:
stationary distribution (a rational function of the rates), currents, entropy production,
environment entropy flows, and for bipartite processes information flows, subsystem entropy
production, mutual information and learning efficiency. Formulas and labels ``[JP-*]``:
``theory/jump.md``. Rates may be numbers, SymPy expressions or strings (read by
:func:`stochthermo.symbolic.parse_expression`); every free symbol is taken to be a positive rate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
from sympy.polys.constructor import construct_domain
from sympy.polys.matrices import DomainMatrix

from .._validation import short_repr
from ..errors import ModelError, ResourceError, ShapeError, ValidationError
from ._factor import factor
from ._parse import _split_top, parse_expression
from .linear import CompiledQuantity

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


__all__ = ["derive_jump", "derive_sensor", "JumpDerivation"]

#: Largest state space derived symbolically (numeric rates / rates with free symbols).
MAX_STATES_NUMERIC = 16
MAX_STATES_SYMBOLIC = 6

_LABELS = {
    "stationary_distribution": (r"p", "[JP-stat]", "W p = 0, sum p = 1"),
    "probability_currents": (r"J", "[JP-current]", "J_ij = W_ij p_j - W_ji p_i"),
    "entropy_production_rate": (r"\sigma", "[JP-ep]",
                                "sum_{i<j} J_ij ln(W_ij p_j / (W_ji p_i))"),
    "environment_entropy_flows": (r"\dot S^{\mathrm{env}}", "[JP-env]",
                                  "sum_{i<j in r} J_ij ln(W_ij / W_ji)"),
    "information_flows": (r"\dot I", "[JP-info]",
                          "sum_{x-jumps} J_ij ln(p(y|x_i) / p(y|x_j)), and for Y"),
    "subsystem_entropy_production": (r"\sigma_{X,Y}", "[JP-sub]",
                                     "sum_{x-jumps} J_ij ln(W_ij p_j / (W_ji p_i)), and for Y"),
    "mutual_information": (r"I", "[JP-mi]", "sum p(x,y) ln(p(x,y) / (p(x) p(y)))"),
    "learning_efficiency": (r"\eta_X", "[JP-eff]", "Idot_X / Sdot_X_env"),
}
_VECTORS = ("stationary_distribution", "environment_entropy_flows", "information_flows",
            "subsystem_entropy_production")
_BIPARTITE_ONLY = ("information_flows", "subsystem_entropy_production", "mutual_information",
                   "learning_efficiency")


def _split(s: str, name: str) -> str | list[Any]:
    """Nested bracketed lists ``[[a, b], [c, d]]`` -> nested Python lists of leaf strings."""
    s = s.strip()
    if not s.startswith("["):
        return s
    if not s.endswith("]"):
        raise ValidationError(f"{name}={short_repr(s)} must be a bracketed list")
    return [_split(i, name) for i in _split_top(s, name)]


def _nested(value, name: str, ndim: int, symbols: dict):
    """Parse ``value`` into a NumPy object array of SymPy expressions with ``ndim`` axes."""
    if isinstance(value, str):
        if len(value) > 200_000:
            raise ValidationError(f"{name} is {len(value)} characters long; too long to parse")
        value = _split(value, name)
    if isinstance(value, sp.MatrixBase):
        value = value.tolist()
    try:
        arr = np.array(value, dtype=object)
    except ValueError:
        arr = None
    if arr is None or arr.ndim != ndim:
        got = None if arr is None else arr.shape
        raise ShapeError(f"{name} must be a nested list with {ndim} axes, got shape {got}")
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(arr.shape):
        out[idx] = parse_expression(arr[idx], f"{name}{list(idx)}", symbols)
    return out


def _positive(exprs):
    """Replace every free symbol by a positive symbol of the same name (rates are > 0)."""
    free = set().union(*[e.free_symbols for e in exprs]) if exprs else set()
    return {s: sp.Symbol(s.name, positive=True) for s in free}


class JumpDerivation:
    r"""Closed forms of a Markov jump process, as SymPy.

    Attributes (computed on first access): ``stationary_distribution`` (column matrix),
    ``probability_currents`` (matrix), ``entropy_production_rate``,
    ``environment_entropy_flows`` (one per reservoir); bipartite models also
    ``information_flows`` :math:`(\dot I^X, \dot I^Y)`, ``subsystem_entropy_production``,
    ``mutual_information`` and ``learning_efficiency`` (learner X). :meth:`latex` prints one,
    :meth:`compile` returns a NumPy function of the symbols (keyword arguments).
    """

    def __init__(self, W: sp.Matrix, reservoirs: np.ndarray, shape: Any = None) -> None:
        self.W = W
        self.n_states = W.shape[0]
        self.reservoirs = reservoirs
        self.shape = shape  # (nx, ny) for a bipartite model
        self.symbols = tuple(sorted(W.free_symbols, key=lambda s: s.name))
        self._cache: dict = {}

    # -- algebra -------------------------------------------------------------------------------
    def _edges(self):
        n = self.n_states
        return [(i, j) for i in range(n) for j in range(i + 1, n) if self.W[i, j] != 0]

    def _p(self):
        if "p" not in self._cache:
            n, W = self.n_states, self.W
            G = sp.Matrix(W)
            for j in range(n):
                G[j, j] = -sum(W[i, j] for i in range(n) if i != j)
            A = G.copy()
            A[n - 1, :] = sp.ones(1, n)
            K, elems = construct_domain(list(A), field=True)
            dm = DomainMatrix([elems[r * n:(r + 1) * n] for r in range(n)], (n, n), K)
            rhs = DomainMatrix([[K.zero]] * (n - 1) + [[K.one]], (n, 1), K)
            try:
                sol = dm.lu_solve(rhs)
            except Exception as exc:  # noqa: BLE001 - SymPy raises several types when singular
                raise ModelError(f"the stationary distribution is not unique ({exc}); the chain "
                                 "must be irreducible") from None
            self._cache["p"] = [factor(K.to_sympy(sol[r, 0].element)) for r in range(n)]
        return self._cache["p"]

    def _flux(self, i, j):
        p = self._p()
        return self.W[i, j] * p[j], self.W[j, i] * p[i]

    def _simplify(self, e):
        return factor(sp.cancel(e)) if not self.symbols or sp.count_ops(e) < 400 else e

    def _sum(self, edges, log_arg):
        total = sp.Integer(0)
        for i, j in edges:
            a, b = self._flux(i, j)
            J = self._simplify(a - b)
            if J == 0:
                continue
            arg = self._simplify(log_arg(i, j, a, b))
            if sp.default_sort_key(1 / arg) < sp.default_sort_key(arg):
                J, arg = -J, self._simplify(1 / arg)  # J ln(r) = (-J) ln(1/r): one form per pair
            total += J * sp.log(arg)
        return self._tidy(total)

    def _tidy(self, e):
        """The shortest of ``e`` and its log-expanded, factored and log-recombined forms."""
        if sp.count_ops(e) > 600:
            return e
        expanded = sp.factor_terms(sp.expand_log(e))

        def only_logs(x):
            return x.is_Add and all(
                t.func == sp.log or (t.is_Mul and len(t.args) == 2 and t.args[0] == -1
                                     and t.args[1].func == sp.log) for t in x.args)

        combined = expanded.replace(only_logs, lambda x: sp.log(factor(sp.exp(x))))
        return min([e, expanded, combined], key=sp.count_ops)

    def _x_edges(self, x=True):
        ny = self.shape[1]
        return [(i, j) for i, j in self._edges() if (i % ny == j % ny) == x]

    def _marg(self):
        nx, ny = self.shape
        p = self._p()
        px = [factor(sum(p[x * ny + y] for y in range(ny))) for x in range(nx)]
        py = [factor(sum(p[x * ny + y] for x in range(nx))) for y in range(ny)]
        return p, px, py

    # -- quantities ----------------------------------------------------------------------------
    def _make_stationary_distribution(self):
        return sp.Matrix(self._p())

    def _make_probability_currents(self):
        n = self.n_states
        J = sp.zeros(n, n)
        for i, j in self._edges():
            a, b = self._flux(i, j)
            J[i, j] = self._simplify(a - b)
            J[j, i] = -J[i, j]
        return J

    def _make_entropy_production_rate(self):
        return self._sum(self._edges(), lambda i, j, a, b: a / b)

    def _make_environment_entropy_flows(self):
        k = int(self.reservoirs.max(initial=0)) + 1
        out = []
        for r in range(k):
            edges = [(i, j) for i, j in self._edges() if self.reservoirs[i, j] == r]
            out.append(self._sum(edges, lambda i, j, a, b: self.W[i, j] / self.W[j, i]))
        return sp.Matrix(out)

    def _make_information_flows(self):
        p, px, py = self._marg()
        ny = self.shape[1]
        fx = self._sum(self._x_edges(True), lambda i, j, a, b:
                       p[i] * px[j // ny] / (p[j] * px[i // ny]))
        fy = self._sum(self._x_edges(False), lambda i, j, a, b:
                       p[i] * py[j % ny] / (p[j] * py[i % ny]))
        return sp.Matrix([fx, fy])

    def _make_subsystem_entropy_production(self):
        return sp.Matrix([self._sum(self._x_edges(True), lambda i, j, a, b: a / b),
                          self._sum(self._x_edges(False), lambda i, j, a, b: a / b)])

    def _make_mutual_information(self):
        p, px, py = self._marg()
        nx, ny = self.shape
        total = sp.Integer(0)
        for x in range(nx):
            for y in range(ny):
                q = p[x * ny + y]
                if q != 0:
                    total += q * sp.log(self._simplify(q / (px[x] * py[y])))
        return total

    def _make_learning_efficiency(self):
        return self.information_flows[0] / self.environment_entropy_flows[0]

    # -- access --------------------------------------------------------------------------------
    @property
    def names(self) -> tuple:
        """Names of the available quantities."""
        base = [k for k in _LABELS if self.shape is not None or k not in _BIPARTITE_ONLY]
        return tuple(base)

    def __getattr__(self, name):
        if name.startswith("_") or name not in _LABELS:
            raise AttributeError(name)
        if name in _BIPARTITE_ONLY and self.__dict__.get("shape") is None:
            raise ModelError(f"{name} needs a bipartite model: derive_jump(wx, wy)")
        cache = self.__dict__["_cache"]
        if name not in cache:
            cache[name] = getattr(self, "_make_" + name)()
        return cache[name]

    def expression(self, name: str) -> Any:
        """The SymPy expression (or matrix) of quantity ``name``."""
        if name not in _LABELS:
            raise ValidationError(f"unknown quantity {name!r}; valid names are "
                                  f"{', '.join(self.names)}")
        return getattr(self, name)

    def latex(self, name: str) -> str:
        """LaTeX of ``name`` as ``symbol = expression``."""
        expr = self.expression(name)  # validates name first
        return f"{_LABELS[name][0]} = {sp.latex(expr)}"

    def compile(self, name: str) -> Any:
        """Compile ``name`` into a NumPy function of the model's symbols (keyword arguments).

        Returns a :class:`stochthermo.symbolic.CompiledQuantity`; vectors come back with shape
        ``(k,)`` (or ``(*batch, k)``), the current matrix as ``(n, n)``.
        """
        key = ("compiled", name)
        if key in self._cache:
            return self._cache[key]
        expr = self.expression(name)
        args = [re.sub(r"\W", "_", s.name) for s in self.symbols]
        if len(set(args)) != len(args):
            raise ValidationError(f"symbol names {args} collide after sanitising; rename them")
        dummies = [sp.Symbol(a) for a in args]
        target = expr.xreplace(dict(zip(self.symbols, dummies)))
        shape = tuple(expr.shape) if isinstance(expr, sp.MatrixBase) else ()
        func: Callable[..., Any]
        if not self.symbols:
            value = (np.array(sp.N(expr, 30).tolist(), dtype=np.float64) if shape
                     else np.float64(sp.N(expr, 30)))

            def func(_v=value):
                return _v
        elif shape:
            entries = sp.lambdify(dummies, list(target), modules="numpy", cse=True)

            def func(*vals, _f=entries, _s=shape):
                cells = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in _f(*vals)])
                st = np.stack(cells, axis=-1)
                return st.reshape(st.shape[:-1] + _s)
        else:
            func = sp.lambdify(dummies, target, modules="numpy", cse=True)
        label, ref, formula = _LABELS[name]
        doc = (f"{name}({', '.join(a + '=...' for a in args)})\n\n"
               f"Closed form {ref}: {formula} (theory/jump.md).\n"
               f"Keyword arguments, in order: {', '.join(args) or '(none)'}.\n"
               f"Expression: {sp.sstr(expr)[:400]}")
        out = CompiledQuantity(name=name, arguments=tuple(args), _func=func, shape=shape,
                               vector=name in _VECTORS, __doc__=doc)
        self._cache[key] = out
        return out

    # the interface shared with LinearDerivation (used by the command line)
    assumptions: tuple = ()

    def assumptions_for(self, name: str) -> tuple:
        """Conditions assumed by ``name``: none beyond positive rates."""
        return ()

    def in_terms_of_covariance(self, name: str) -> bool:
        """Always False: jump quantities are written in the rates only."""
        return False

    def table(self, names: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """``(name, plain-text expression)`` rows for display."""
        return [(n, sp.sstr(self.expression(n))) for n in (names or self.names)]

    def __repr__(self) -> str:
        kind = f"bipartite {self.shape}" if self.shape else "general"
        return (f"JumpDerivation({kind}, n_states={self.n_states}, "
                f"symbols={[s.name for s in self.symbols]})")


def _check(W: sp.Matrix, describe):
    n = W.shape[0]
    limit = MAX_STATES_SYMBOLIC if W.free_symbols else MAX_STATES_NUMERIC
    if n > limit:
        raise ResourceError(
            f"{n} states is too many for a symbolic derivation with "
            f"{'free symbols' if W.free_symbols else 'numbers'} (at most {limit}); use "
            "stochthermo.exact for numbers"
        )
    for i in range(n):
        for j in range(n):
            e = W[i, j]
            if i == j:
                continue
            if e.is_number and (not e.is_real or e < 0):
                raise ValidationError(f"the rate {describe(i, j)} = {e} must be a non-negative "
                                      "real number")
            if e.is_negative or e.is_real is False:  # symbols are positive rates
                raise ValidationError(
                    f"the rate {describe(i, j)} = {e} is negative (or not real) for every value "
                    "of its symbols, which are read as positive rates; write the rate itself "
                    "(e.g. a, not -a)"
                )
            if (e == 0) != (W[j, i] == 0):
                raise ModelError(f"{describe(i, j)} = {e} but its reverse {describe(j, i)} = "
                                 f"{W[j, i]}; every jump needs a reverse jump (or neither)")
    adj = np.array([[W[i, j] != 0 for j in range(n)] for i in range(n)])
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    for _ in range(n):
        seen = seen | adj[:, seen].any(axis=1)
    if not seen.all():
        raise ModelError(f"the chain is not irreducible: states {np.flatnonzero(~seen).tolist()}"
                         " cannot be reached from state 0")


def derive_jump(wx: Any = None, wy: Any = None, *, W: Any = None,
                reservoirs: Any = None) -> JumpDerivation:
    r"""Derive the closed forms of a small Markov jump process symbolically.

    Parameters
    ----------
    wx, wy : nested list or str, optional
        Bipartite rates as for :class:`~stochthermo.BipartiteJump`: ``wx[y][x_to][x_from]``
        (shape (ny, nx, nx)) and ``wy[x][y_to][y_from]`` (shape (nx, ny, ny)); entries are
        numbers, SymPy expressions or strings like ``"k*exp(-E)"``, a whole array may be a
        string ``"[[[0, a], [b, 0]], [[0, b], [a, 0]]]"``. Diagonals are ignored.
    W : nested list or str, optional
        Instead of ``wx, wy``: a general rate matrix, ``W[i][j]`` the rate of ``j -> i``.
    reservoirs : array_like of int, optional
        With ``W``: reservoir label of each jump (default: one reservoir).

    Returns
    -------
    JumpDerivation

    Notes
    -----
    Every free symbol is read as a positive rate. Sizes: up to 16 states with numeric rates,
    6 with free symbols. ``theory/jump.md`` [JP-stat], [JP-ep], [JP-info], [JP-sub], [JP-eff].

    Examples
    --------
    >>> from stochthermo.symbolic import derive_sensor
    >>> d = derive_sensor()
    >>> d.stationary_distribution[0]
    (a + w)/(2*(a + b + 2*w))
    """
    symbols: dict = {}
    if W is not None:
        if wx is not None or wy is not None:
            raise ValidationError("give wx and wy (bipartite) or W (general), not both")
        M = _nested(W, "W", 2, symbols)
        n = M.shape[0]
        if M.shape != (n, n) or n < 2:
            raise ShapeError(f"W must be square with at least 2 states, got shape {M.shape}")
        Wm = sp.Matrix(n, n, lambda i, j: M[i, j] if i != j else 0)
        res = (np.zeros((n, n), dtype=np.int64) if reservoirs is None
               else np.asarray(reservoirs, dtype=np.int64))
        if res.shape != (n, n):
            raise ShapeError(f"reservoirs must have shape ({n}, {n}), got {res.shape}")
        shape = None

        def describe(i, j):
            return f"W[{i}][{j}]"
    else:
        if wx is None or wy is None:
            raise ValidationError("give both wx and wy (a bipartite model), or W=")
        if reservoirs is not None:
            raise ValidationError("reservoirs= goes with W=; a bipartite model has two: x and y")
        X = _nested(wx, "wx", 3, symbols)
        Y = _nested(wy, "wy", 3, symbols)
        ny, nx = X.shape[0], X.shape[1]
        if X.shape != (ny, nx, nx) or Y.shape != (nx, ny, ny):
            raise ShapeError(f"wx must have shape (ny, nx, nx) and wy (nx, ny, ny); got "
                             f"{X.shape} and {Y.shape}")
        n = nx * ny
        if n > MAX_STATES_NUMERIC:
            raise ResourceError(f"{n} states is too many for a symbolic derivation")
        Wm = sp.zeros(n, n)
        res = np.zeros((n, n), dtype=np.int64)
        for y in range(ny):
            for a in range(nx):
                for b in range(nx):
                    if a != b:
                        Wm[a * ny + y, b * ny + y] = X[y, a, b]
        for x in range(nx):
            for a in range(ny):
                for b in range(ny):
                    if a != b:
                        Wm[x * ny + a, x * ny + b] = Y[x, a, b]
                        res[x * ny + a, x * ny + b] = 1
        shape = (nx, ny)

        def describe(i, j):
            (xi, yi), (xj, yj) = divmod(i, ny), divmod(j, ny)
            return f"wx[{yi}][{xi}][{xj}]" if yi == yj else f"wy[{xi}][{yi}][{yj}]"
    Wm = Wm.xreplace(_positive(list(Wm)))
    _check(Wm, describe)
    return JumpDerivation(Wm, res, shape)


def derive_sensor(w: str = "w", a: str = "a", b: str = "b") -> JumpDerivation:
    r"""The 4-state sensor in closed form [JP-sensor].

    A binary signal ``y`` flips at rate ``w``; the sensor ``x`` copies it at rate ``a`` and
    leaves it at rate ``b`` (the same model as :meth:`stochthermo.BipartiteJump.sensor`). With
    :math:`q = (a + w)/(a + b + 2w)` the probability that the sensor matches the signal:
    :math:`\dot I^X = (a(1-q) - bq)\ln\frac{q}{1-q}`, :math:`\dot S^X_{\rm env} =
    (a(1-q) - bq)\ln\frac{a}{b}`, :math:`\eta_X = \ln\frac{q}{1-q} / \ln\frac{a}{b}`.
    """
    wx = [[[0, a], [b, 0]], [[0, b], [a, 0]]]
    wy = [[[0, w], [w, 0]], [[0, w], [w, 0]]]
    return derive_jump(wx, wy)
