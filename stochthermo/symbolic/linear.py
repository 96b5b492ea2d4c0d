r"""SymPy derivations of the linear-Langevin and linearized-SGD closed forms.

The algebra runs on SymPy's polynomial domains (fraction-free: polynomial numerators over one
common denominator, cancelled by a single gcd at the end), which is what keeps a general 3x3
model within seconds. Every quantity is the same formula as in :mod:`stochthermo.exact`; the
derivations are in ``theory/linear_langevin.md`` (labels ``[LL-*]``) and ``theory/sgd.md``.

Quantities that need the inverse of the stationary covariance (current matrix, information flows,
subsystem entropy production, mutual information) are written out in full for ``d <= 2`` and for
models without free symbols. For larger symbolic models their fully expanded forms run to
hundreds of thousands of terms, so they are given in terms of the covariance entries
``C_{ij}`` (whose closed forms are in ``stationary_covariance``); :meth:`LinearDerivation.compile`
chains the two, so the compiled functions still take only the model's symbols.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
from sympy.polys.constructor import construct_domain
from sympy.polys.matrices import DomainMatrix

from .._validation import as_float_array, normalize_blocks, short_repr
from ..errors import ModelError, ShapeError, UnstableModelError, ValidationError
from ._checks import _unique, check_model, decide, prune, psd_conditions
from ._cost import check_cost
from ._factor import factor
from ._parse import _split_top, check_expression, parse_expression, parse_matrix

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from .._typing import ArrayLike, Blocks

__all__ = [
    "derive_linear",
    "derive_sgd",
    "LinearDerivation",
    "CompiledQuantity",
    "parse_matrix",
    "parse_expression",
]

# ---------------------------------------------------------------------------------------------
# Fraction-free linear algebra: polynomial matrices over one common denominator
# ---------------------------------------------------------------------------------------------

_MAX_GCD_TERMS = 4000  # cancel common factors only below this size (gcds of huge polys stall)
_FACTOR_TERMS = 400  # factor numerators and denominators with fewer terms than this
_FACTOR_DEGREE = 30  # ... and at most this total degree (factoring (a + b)^200 takes minutes)


class _Alg:
    """Polynomial domain of a model: the field K of its entries and the ring R of numerators."""

    def __init__(self, exprs):
        K, _ = construct_domain(list(exprs), field=True)
        self.K = K
        self.R = K.get_ring()

    def mat(self, M: sp.Matrix):
        """(numerator over R, denominator in R) of a SymPy matrix."""
        K = self.K
        dm = DomainMatrix([[K.from_sympy(e) for e in row] for row in M.tolist()], M.shape, K)
        den, num = dm.clear_denoms(convert=True)
        den = getattr(den, "element", den)
        return num.convert_to(self.R), self.R.convert(den)

    def scal(self, num, den) -> sp.Expr:
        """A ring fraction as a (cancelled, factored where small) SymPy expression."""
        R = self.R
        if num == R.zero:
            return sp.Integer(0)
        if _size(num) + _size(den) < _MAX_GCD_TERMS:
            g = R.gcd(num, den)
            num, den = R.exquo(num, g), R.exquo(den, g)
        e_num, e_den = R.to_sympy(num), R.to_sympy(den)
        # full factorisation only for small polynomials: it is what makes a closed form readable,
        # but on larger ones it costs more than the derivation itself
        e_num = factor(e_num) if _factorable(num) else sp.factor_terms(e_num)
        e_den = factor(e_den) if _factorable(den) else sp.factor_terms(e_den)
        return e_num / e_den


def _factorable(p) -> bool:
    """Small enough to factor: fewer than _FACTOR_TERMS terms and total degree <= _FACTOR_DEGREE."""
    if _size(p) >= _FACTOR_TERMS:
        return False
    monoms = getattr(p, "monoms", None)
    return not callable(monoms) or max((sum(m) for m in monoms()), default=0) <= _FACTOR_DEGREE


def _size(p) -> int:
    terms = getattr(p, "terms", None)
    return len(terms()) if callable(terms) else 1


@dataclass
class _RM:
    """A matrix ``num / den`` with a polynomial numerator matrix and a scalar denominator."""

    num: DomainMatrix
    den: Any  # an element of the polynomial ring (SymPy's ring elements carry no static type)

    def __matmul__(self, other: _RM) -> _RM:
        return _RM(self.num * other.num, self.den * other.den)

    def __add__(self, other: _RM) -> _RM:
        if self.den == other.den:
            return _RM(self.num + other.num, self.den)
        return _RM(self.num * other.den + other.num * self.den, self.den * other.den)

    def __neg__(self) -> _RM:
        return _RM(-self.num, self.den)

    def __sub__(self, other: _RM) -> _RM:
        return self + (-other)

    @property
    def T(self) -> _RM:
        return _RM(self.num.transpose(), self.den)

    def inv(self) -> _RM:
        try:
            adj, det = self.num.adj_det()
        except (TypeError, ValueError, NotImplementedError, ZeroDivisionError) as exc:
            # SymPy cannot invert over the domain of some entries (e.g. sin(k)**2 + cos(k)**2)
            raise ModelError(
                f"SymPy cannot invert this matrix exactly ({type(exc).__name__}: {exc}); "
                "simplify the entries (e.g. sin(k)**2 + cos(k)**2 -> 1), or give numbers and "
                "use stochthermo.exact"
            ) from None
        if det == self.num.domain.zero:
            raise ModelError("the matrix to invert is singular for all parameter values")
        return _RM(adj * self.den, det)

    def sub(self, rows, cols) -> _RM:
        return _RM(self.num.extract(list(rows), list(cols)), self.den)

    def trace(self, idx=None):
        n = self.num.shape[0]
        idx = range(n) if idx is None else idx
        R = self.num.domain
        tot = R.zero
        for i in idx:
            tot += self.num[i, i].element
        return tot, self.den

    def det(self):
        k = self.num.shape[0]
        return self.num.det(), self.den**k


def _lyapunov_system(alg: _Alg, n: int) -> tuple[list, dict, list, list]:
    """Unknowns of a symmetric ``n x n`` matrix, with a zero linear system over the ring.

    Returns ``(idx, pos, L, rhs)``: the entries ``(i, j), i <= j``, their positions in ``idx``,
    and the zero system matrix ``(m, m)`` and right-hand side ``(m, 1)`` (``m = len(idx)``).
    """
    R = alg.R
    idx = [(i, j) for i in range(n) for j in range(i, n)]
    pos = {p: k for k, p in enumerate(idx)}
    m = len(idx)
    return idx, pos, [[R.zero] * m for _ in range(m)], [[R.zero] for _ in range(m)]


def _lyapunov_solve(alg: _Alg, A: _RM, D: _RM) -> _RM:
    """Stationary covariance: ``A C + C A^T = 2 D``.

    Unknowns are the ``d(d+1)/2`` independent entries; the linear system is solved fraction-free
    (``solve_den``), so the result is one numerator matrix over one denominator.
    """
    n = A.num.shape[0]
    idx, pos, L, rhs = _lyapunov_system(alg, n)
    a, da = A.num, A.den
    dd = D.den
    for r, (i, j) in enumerate(idx):
        for k in range(n):
            L[r][pos[(min(k, j), max(k, j))]] += a[i, k].element * dd
            L[r][pos[(min(i, k), max(i, k))]] += a[j, k].element * dd
        rhs[r][0] = 2 * D.num[i, j].element * da
    return _solve_symmetric(alg, n, idx, L, rhs)


def _discrete_lyapunov_solve(alg: _Alg, P: _RM, Q: _RM) -> _RM:
    """Stationary covariance of a linear map: ``C = P C P^T + Q`` (as :func:`_lyapunov_solve`)."""
    n = P.num.shape[0]
    idx, pos, L, rhs = _lyapunov_system(alg, n)
    # C - P C P^T = Q, scaled by den(P)^2 den(Q)
    p, dp = P.num, P.den
    q, dq = Q.num, Q.den
    for r, (i, j) in enumerate(idx):
        L[r][r] += dp * dp * dq
        for k in range(n):
            for l_ in range(n):
                L[r][pos[(min(k, l_), max(k, l_))]] -= p[i, k].element * p[j, l_].element * dq
        rhs[r][0] = q[i, j].element * dp * dp
    return _solve_symmetric(alg, n, idx, L, rhs)


def _solve_symmetric(alg: _Alg, n: int, idx: list, L: list, rhs: list) -> _RM:
    """Solve ``L x = rhs`` fraction-free for the unknowns ``idx`` of a symmetric matrix."""
    R = alg.R
    m = len(idx)
    Lm = DomainMatrix(L, (m, m), R)
    bm = DomainMatrix(rhs, (m, 1), R)
    try:
        xnum, xden = Lm.solve_den(bm)
    except Exception as exc:  # noqa: BLE001 - SymPy raises several types for singular systems
        raise ModelError(
            f"the Lyapunov equation has no unique solution for this model ({exc}); the drift "
            "must be stable"
        ) from None
    cells: list[list[Any]] = [[None] * n for _ in range(n)]
    for r, (i, j) in enumerate(idx):
        cells[i][j] = cells[j][i] = xnum[r, 0].element
    return _RM(DomainMatrix(cells, (n, n), R), R.convert(xden))


# ---------------------------------------------------------------------------------------------
# Compiled quantities
# ---------------------------------------------------------------------------------------------


def _argname(sym: sp.Symbol) -> str:
    name = re.sub(r"\W", "_", sym.name)
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = "s_" + name
    return name


def _lambdify(args, expr):
    """NumPy function of ``args``; matrix results broadcast as ``(*batch, n, m)``."""
    if not isinstance(expr, sp.MatrixBase):
        return sp.lambdify(args, expr, modules="numpy", cse=True)
    shape = tuple(expr.shape)
    entries = sp.lambdify(args, list(expr), modules="numpy", cse=True)

    def func(*vals):
        cells = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in entries(*vals)])
        stacked = np.stack(cells, axis=-1)
        return stacked.reshape(stacked.shape[:-1] + shape)

    return func


@dataclass(frozen=True)
class CompiledQuantity:
    """A closed form compiled to a NumPy function of the model's symbols (keyword arguments).

    Call it as ``f(k=1.0, T=0.5)``; arrays broadcast for scalar quantities. ``arguments`` gives the
    keyword names in order; the docstring states the formula.
    """

    name: str
    arguments: tuple
    _func: Callable[..., Any] = field(repr=False)
    _stage: Callable[..., Any] | None = field(repr=False, default=None)
    shape: tuple = ()
    vector: bool = False
    __doc__: str = ""

    def __call__(self, **kwargs):
        """Evaluate at the given symbol values (keyword arguments, see ``arguments``)."""
        missing = [a for a in self.arguments if a not in kwargs]
        extra = [k for k in kwargs if k not in self.arguments]
        if missing or extra:
            raise ValidationError(
                f"{self.name}() takes the keyword arguments {list(self.arguments)}; "
                f"missing {missing}, unexpected {extra}"
            )
        # our error for text, None, complex or a bare bool (NaN stays NaN, like NumPy)
        vals = [as_float_array(a, kwargs[a], finite=False) for a in self.arguments]
        if self._stage is not None:
            cov = np.asarray(self._stage(*vals), dtype=np.float64)
            n = cov.shape[-1]
            vals = vals + [cov[..., i, j] for i in range(n) for j in range(i, n)]
        out = np.asarray(self._func(*vals), dtype=np.float64)
        if len(self.shape) == 2 and self.shape[1] == 1 and self.vector:
            out = out[..., 0]
        return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# The derivation object
# ---------------------------------------------------------------------------------------------

_LABELS = {
    "stationary_covariance": ("C", "[LL-cov]", "A C + C A^T = 2 D"),
    "discrete_covariance": ("C_r", "[SGD-cov]", "C = (I - r H) C (I - r H)^T + r^2 Sigma / |b|"),
    "current_matrix": ("M", "[LL-current]", "M = -A + D C^{-1}"),
    "detailed_balance_condition": ("DB", "[LL-db]", "D^{-1} A - A^T D^{-1} = 0"),
    "commutator": ("[H, Sigma]", "[SGD-db]", "H Sigma - Sigma H = 0"),
    "entropy_production_rate": ("sigma", "[LL-ep]", "tr(A^T D^{-1} A C) - tr(A)"),
    "medium_entropy_rates": ("Sdot_env", "[LL-heat]", "tr_i(D^{-1} A C A^T) - tr_i(D^{-1} A D)"),
    "heat_rates": ("Qdot", "[LL-heat]", "T_i Sdot_env_i"),
    "information_flows": ("Idot", "[LL-info]", "-tr_i(M)"),
    "subsystem_entropy_production": ("sigma_i", "[LL-sub]", "Sdot_env_i + tr_i(M)"),
    "mutual_information": ("I", "[LL-mi]", "1/2 ln(prod_i det C_ii / det C)"),
}


def _parse_list(value, name: str, symbols: dict) -> list:
    """A list of scalar expressions from a list or a string ``"[T1, T2]"``."""
    if isinstance(value, str):
        items = _split_top(value, name) if value.strip().startswith("[") else [value]
    elif isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
    else:
        items = [value]
    return [parse_expression(v, f"{name}[{i}]", symbols) for i, v in enumerate(items)]


_VECTORS = ("medium_entropy_rates", "heat_rates", "information_flows",
            "subsystem_entropy_production")


def _shape_text(name, shape) -> str:
    if not shape:
        return "a float"
    if name in _VECTORS:
        return f"an array of shape ({shape[0]},), one value per block"
    return f"an array of shape {shape}"


class LinearDerivation:
    r"""Closed forms of a linear Langevin model :math:`dx = -A x\,dt + \sqrt{2D}\,dW`, as SymPy.

    Attributes (SymPy matrices or expressions): ``stationary_covariance``, ``current_matrix``,
    ``detailed_balance_condition`` (a matrix that vanishes iff detailed balance holds),
    ``entropy_production_rate``, ``medium_entropy_rates``, ``heat_rates``, ``information_flows``,
    ``subsystem_entropy_production``, ``mutual_information`` (between blocks), and for SGD models
    ``commutator`` and ``discrete_covariance``.

    Use :meth:`latex` to print one and :meth:`compile` to get a fast numeric function.
    ``symbols`` lists the free symbols (sorted by name), ``covariance_symbols`` the symbols
    ``C_{ij}`` used by quantities given in terms of the covariance (see module notes).

    The constructor checks the model as ``stochthermo.LinearLangevin`` does (stable ``A``,
    symmetric positive semi-definite ``D``, finite real entries), exactly: Routh-Hurwitz
    conditions on :math:`\det(\lambda I + A)` and the coefficients :math:`e_k(D) \ge 0`
    (``symbolic/_checks.py``). ``assumptions`` holds the conditions SymPy cannot decide from the
    symbols being real, as SymPy relations (for example ``(k > 0, T >= 0)``); they are printed by
    :meth:`latex` and :meth:`table`. ``estimated_seconds`` is the up-front time estimate
    (:func:`stochthermo.symbolic.estimate_cost`); above ``SLOW_SECONDS`` the constructor raises
    :class:`~stochthermo.errors.ResourceError` unless ``allow_slow=True``.
    """

    def __init__(self, A: sp.Matrix, D: sp.Matrix, *, blocks: Blocks | None = None,
                 temperatures: ArrayLike | None = None, kind: str = "linear",
                 sgd: dict | None = None, allow_slow: bool = False) -> None:
        n = A.shape[0]
        if A.shape != (n, n) or D.shape != (n, n):
            raise ShapeError(f"A {A.shape} and D {D.shape} must be square of the same size")
        A = A.applyfunc(lambda e: check_expression(e, "A"))
        D = D.applyfunc(lambda e: check_expression(e, "D"))
        if (D - D.T).applyfunc(sp.expand) != sp.zeros(n, n):
            raise ValidationError(f"D must be symmetric, got {short_repr(D.tolist())}")
        self.kind = kind
        self.A, self.D = A, D
        self.dim = n
        self.blocks = normalize_blocks(blocks, n)
        self._sgd = sgd or {}
        exprs = list(A) + list(D)
        if self._sgd:
            exprs += list(self._sgd["H"]) + list(self._sgd["Sigma"]) + [self._sgd["lr"],
                                                                          self._sgd["b"]]
        self.symbols = tuple(sorted(set().union(*[e.free_symbols for e in exprs]),
                                    key=lambda s: s.name))
        temps = None
        if temperatures is not None:
            temps = _parse_list(temperatures, "temperatures", {s.name: s for s in self.symbols})
            extra = set().union(*[T.free_symbols for T in temps]) - set(self.symbols)
            self.symbols = tuple(sorted(set(self.symbols) | extra, key=lambda s: s.name))
        #: estimated seconds to derive every quantity (see :func:`estimate_cost`)
        self.estimated_seconds = check_cost(A, D, allow_slow=allow_slow,
                                            extra_symbols=self.symbols)
        self._discrete_assumptions: tuple = ()
        self._discrete_refusal: str | None = None
        if self._sgd:
            assumptions = self._sgd_conditions()
        else:
            assumptions = check_model(A, D)
        if temps is None:
            temps = [sp.Add(*[D[i, i] for i in b]) / len(b) for b in self.blocks]
        else:
            if len(temps) != len(self.blocks):
                raise ValidationError(
                    f"temperatures has {len(temps)} entries but there are {len(self.blocks)} blocks"
                )
            for i, T in enumerate(temps):
                res = decide(T, strict=True)
                if res is False:
                    raise ValidationError(
                        f"temperatures[{i}]={T} must be > 0 (one temperature per block)"
                    )
                if res is not True:
                    assumptions.append(res)
        self.temperatures = tuple(temps)
        #: conditions (SymPy relations) under which the closed forms hold and that SymPy could
        #: not decide from the symbols being real: Routh-Hurwitz stability of A, positive
        #: semi-definite D, real entries, positive temperatures (see ``symbolic/_checks.py``)
        self.assumptions = tuple(prune(assumptions))
        self._alg = _Alg(exprs + [sp.Integer(1)])
        self._cache: dict = {}
        self._full_inverse = n <= 2 or not self.symbols
        cs = {}
        Cs = sp.zeros(n, n)
        for i in range(n):
            for j in range(i, n):
                s = sp.Symbol(f"C_{i}{j}" if n < 10 else f"C_{i}_{j}", real=True)
                Cs[i, j] = Cs[j, i] = s
                cs[(i, j)] = s
        self.covariance_symbols = tuple(cs.values())
        clash = sorted({s.name for s in self.symbols} & {s.name for s in cs.values()})
        if clash and not self._full_inverse:
            raise ValidationError(
                f"the symbol {clash[0]!r} is the name of a stationary-covariance entry, used by "
                "the quantities written in terms of C_ij; rename it"
            )
        self._Csym = Cs

    # -- helpers ------------------------------------------------------------------------------
    def _sgd_conditions(self) -> list:
        """Stability of H, PSD of Sigma, lr > 0, b >= 1; the discrete map's stability apart."""
        H, S, r, b = self._sgd["H"], self._sgd["Sigma"], self._sgd["lr"], self._sgd["b"]
        out = check_model(H, S, name_A="hessian", name_D="grad_noise_cov")
        for expr, strict, label in ((r, True, "lr"), (b - 1, False, "batch_size - 1")):
            res = decide(expr, strict=strict)
            if res is False:
                raise ValidationError(f"{label} = {expr} must be {'>' if strict else '>='} 0")
            if res is not True:
                out.append(sp.Gt(r, 0) if label == "lr" else sp.Ge(b, 1))
        # the update map I - r H is stable iff 0 < r h_i < 2 for the eigenvalues h_i of H
        pending: list = []
        for cond in psd_conditions(2 * sp.eye(self.dim) - r * H):
            res = decide(cond, strict=True)
            if res is False:
                self._discrete_refusal = (
                    f"the SGD update map I - lr H is unstable (the condition {cond} > 0 fails: "
                    "lr times an eigenvalue of the Hessian must lie in (0, 2)); the discrete "
                    "iteration has no stationary state. Use a smaller lr"
                )
                pending = []
                break
            if res is not True:
                pending.append(res)
        self._discrete_assumptions = tuple(_unique(pending))
        return out

    def _rm(self, M: sp.Matrix) -> _RM:
        num, den = self._alg.mat(M)
        return _RM(num, den)

    def _C(self) -> _RM:
        if "C_rm" not in self._cache:
            self._cache["C_rm"] = _lyapunov_solve(self._alg, self._rm(self.A), self._rm(self.D))
        return self._cache["C_rm"]

    def _to_matrix(self, M: _RM, alg=None) -> sp.Matrix:
        alg = alg or self._alg
        n, m = M.num.shape
        return sp.Matrix(n, m, lambda i, j: alg.scal(M.num[i, j].element, M.den))

    def _inverse_context(self):
        """(algebra, C as _RM) to use for quantities that need C^{-1}."""
        if self._full_inverse:
            return self._alg, self._C()
        if "cov_alg" not in self._cache:
            alg = _Alg(list(self.A) + list(self.D) + list(self.covariance_symbols))
            num, den = alg.mat(self._Csym)
            self._cache["cov_alg"] = (alg, _RM(num, den))
        return self._cache["cov_alg"]

    def in_terms_of_covariance(self, name: str) -> bool:
        """True when ``name`` is written with the covariance symbols ``C_{ij}``."""
        return name in ("current_matrix", "information_flows", "subsystem_entropy_production",
                        "mutual_information") and not self._full_inverse

    # -- quantities -------------------------------------------------------------------------
    def _get(self, name):
        if name not in self._cache:
            self._cache[name] = getattr(self, "_make_" + name)()
        return self._cache[name]

    def _make_stationary_covariance(self):
        return self._to_matrix(self._C())

    def _make_current_matrix(self):
        alg, C = self._inverse_context()
        A = _RM(*alg.mat(self.A))
        D = _RM(*alg.mat(self.D))
        return self._to_matrix(-A + D @ C.inv(), alg)

    def _make_detailed_balance_condition(self):
        Dinv = self._rm(self.D).inv()
        X = Dinv @ self._rm(self.A)
        return self._to_matrix(X - X.T)

    def _make_entropy_production_rate(self):
        A, C = self._rm(self.A), self._C()
        P = A.T @ self._rm(self.D).inv() @ A @ C
        num, den = P.trace()
        tA, dA = A.trace()
        return self._alg.scal(num * dA - tA * den, den * dA)

    def _medium_rm(self):
        A, C, D = self._rm(self.A), self._C(), self._rm(self.D)
        Dinv = D.inv()
        return Dinv @ A @ C @ A.T - Dinv @ A @ D

    def _block_scalars(self, M: _RM, alg=None):
        alg = alg or self._alg
        out = []
        for b in self.blocks:
            num, den = M.trace(b)
            out.append(alg.scal(num, den))
        return sp.Matrix(out)

    def _make_medium_entropy_rates(self):
        self._require_bipartite("medium_entropy_rates")
        return self._block_scalars(self._medium_rm())

    def _make_heat_rates(self):
        s = self.medium_entropy_rates
        return sp.Matrix([factor(sp.cancel(T * s[i])) if sp.count_ops(s[i]) < 300 else T * s[i]
                          for i, T in enumerate(self.temperatures)])

    def _make_information_flows(self):
        self._require_bipartite("information_flows")
        alg, C = self._inverse_context()
        A = _RM(*alg.mat(self.A))
        D = _RM(*alg.mat(self.D))
        M = -A + D @ C.inv()
        return -self._block_scalars(M, alg)

    def _make_subsystem_entropy_production(self):
        self._require_bipartite("subsystem_entropy_production")
        alg, C = self._inverse_context()
        A = _RM(*alg.mat(self.A))
        D = _RM(*alg.mat(self.D))
        Dinv = D.inv()
        M = -A + D @ C.inv()
        S = Dinv @ A @ C @ A.T - Dinv @ A @ D + M
        return self._block_scalars(S, alg)

    def _make_mutual_information(self):
        if len(self.blocks) < 2:
            return sp.Integer(0)
        alg, C = self._inverse_context()
        num_full, den_full = C.det()
        parts_num, parts_den = alg.R.one, alg.R.one
        for b in self.blocks:
            n_, d_ = C.sub(b, b).det()
            parts_num *= n_
            parts_den *= d_
        if num_full == alg.R.zero:
            raise ModelError("the covariance is singular for all parameter values (the noise "
                             "does not reach every direction), so the information is not "
                             "defined; give D full rank")
        num, den = parts_num * den_full, parts_den * num_full
        # compiled form: log1p of the exact difference keeps tiny informations accurate
        from sympy.codegen.cfunctions import log1p

        self._cache[("compile_form", "mutual_information")] = log1p(
            alg.scal(num - den, den)) / 2
        return sp.log(alg.scal(num, den)) / 2

    def _make_commutator(self):
        if not self._sgd:
            raise AttributeError("commutator is defined for derive_sgd models only")
        H, S = self._sgd["H"], self._sgd["Sigma"]
        return (H * S - S * H).applyfunc(sp.expand)

    def _make_discrete_covariance(self):
        if not self._sgd:
            raise AttributeError("discrete_covariance is defined for derive_sgd models only")
        if self._discrete_refusal:
            raise UnstableModelError(self._discrete_refusal)
        H, S, r, b = self._sgd["H"], self._sgd["Sigma"], self._sgd["lr"], self._sgd["b"]
        n = self.dim
        P = self._rm(sp.eye(n) - r * H)
        Q = self._rm(r**2 * S / b)
        return self._to_matrix(_discrete_lyapunov_solve(self._alg, P, Q))

    def _require_bipartite(self, what):
        label = {i: k for k, b in enumerate(self.blocks) for i in b}
        for i in range(self.dim):
            for j in range(self.dim):
                if label[i] != label[j] and sp.simplify(self.D[i, j]) != 0:
                    raise ModelError(
                        f"{what} needs D block-diagonal with respect to blocks={self.blocks}, but "
                        f"D[{i}][{j}] = {self.D[i, j]}; choose blocks that D does not couple"
                    )

    @property
    def names(self) -> tuple:
        """Names of the available quantities."""
        base = ["stationary_covariance", "current_matrix", "detailed_balance_condition",
                "entropy_production_rate", "medium_entropy_rates", "heat_rates",
                "information_flows", "subsystem_entropy_production", "mutual_information"]
        if self._sgd:
            base[1:1] = ["discrete_covariance"]
            base.insert(4, "commutator")
        return tuple(base)

    def __getattr__(self, name):
        if name.startswith("_") or name not in _LABELS:
            raise AttributeError(name)
        if name in ("commutator", "discrete_covariance") and not self.__dict__.get("_sgd"):
            raise AttributeError(f"{name} is defined for derive_sgd models only")
        return self._get(name)

    def _check_name(self, name):
        if name not in self.names:
            raise ValidationError(
                f"unknown quantity {name!r}; valid names are {', '.join(self.names)}"
            )

    def expression(self, name: str) -> Any:
        """The SymPy expression (or matrix) of quantity ``name``."""
        self._check_name(name)
        return self._get(name)

    def assumptions_for(self, name: str) -> tuple:
        """The stated conditions under which quantity ``name`` holds (see ``assumptions``).

        ``discrete_covariance`` adds the stability of the SGD update map, ``0 < lr h_i < 2``
        for the eigenvalues ``h_i`` of the Hessian (as ``e_k(2 I - lr H) > 0``).
        """
        self._check_name(name)
        extra = self._discrete_assumptions if name == "discrete_covariance" else ()
        return tuple(_unique(self.assumptions + extra))

    def latex(self, name: str, *, assumptions: bool = True) -> str:
        r"""LaTeX of ``name`` as an equation ``symbol = expression``.

        Conditions SymPy could not decide (:meth:`assumptions_for`) follow as
        ``\quad \text{assuming } ...`` unless ``assumptions=False``.
        """
        text = self._latex_equation(name)
        conds = self.assumptions_for(name) if assumptions else ()
        if conds:
            text += r" \quad \text{assuming } " + r",\ ".join(sp.latex(c) for c in conds)
        return text

    def _latex_equation(self, name: str) -> str:
        expr = self.expression(name)
        sym = _LABELS[name][0]
        tex_sym = {"C": "C", "C_r": "C^{(r)}", "M": "M", "DB": r"D^{-1}A - A^{\top}D^{-1}",
                   "[H, Sigma]": r"[H, \Sigma]", "sigma": r"\sigma", "Sdot_env":
                   r"\dot S^{\mathrm{env}}", "Qdot": r"\dot Q", "Idot": r"\dot I",
                   "sigma_i": r"\sigma_i", "I": "I"}[sym]
        # conditions (detailed balance, the commutator) are shown as their left-hand side's value:
        # the condition holds exactly when that matrix is zero, which the reader can see
        return f"{tex_sym} = {sp.latex(expr)}"

    def compile(self, name: str) -> CompiledQuantity:
        """Compile ``name`` into a NumPy function taking the model's symbols as keywords."""
        self._check_name(name)
        key = ("compiled", name)
        if key in self._cache:
            return self._cache[key]
        expr = self.expression(name)
        compile_expr = self._cache.get(("compile_form", name), expr)
        args = [_argname(s) for s in self.symbols]
        if len(set(args)) != len(args):
            raise ValidationError(f"symbol names {args} collide after sanitising; rename them")
        dummies = [sp.Symbol(a) for a in args]
        sub = dict(zip(self.symbols, dummies))
        stage = None
        extra = []
        if self.in_terms_of_covariance(name):
            stage = _lambdify(dummies, self.stationary_covariance.xreplace(sub))
            extra = [sp.Symbol(f"_cov_{k}") for k in range(len(self.covariance_symbols))]
            sub.update(dict(zip(self.covariance_symbols, extra)))
        target = compile_expr.xreplace(sub)
        shape = tuple(expr.shape) if isinstance(expr, sp.MatrixBase) else ()
        if not self.symbols:
            # no free symbols: evaluate the exact expression once, to 30 digits
            exact_value = (np.array(sp.N(expr, 30).tolist(), dtype=np.float64) if shape
                           else np.float64(sp.N(expr, 30)))

            def func(_v=exact_value):
                return _v
        else:
            func = _lambdify(dummies + extra, target)
        label, ref, formula = _LABELS[name]
        doc = (
            f"{name}({', '.join(a + '=...' for a in args)})\n\n"
            f"Closed form {label}: {formula} (theory/linear_langevin.md {ref}).\n"
            f"Keyword arguments, in order: {', '.join(args) or '(none)'}.\n"
            f"Returns {_shape_text(name, shape)} "
            "(parameters given as arrays broadcast over leading axes).\n"
            f"Expression: {sp.sstr(expr)[:400]}"
        )
        vector = name in _VECTORS
        out = CompiledQuantity(name=name, arguments=tuple(args), _func=func, _stage=stage,
                               shape=shape, vector=vector, __doc__=doc)
        self._cache[key] = out
        return out

    def table(self, names: Sequence[str] | None = None) -> list[tuple[str, str]]:
        """``(name, plain-text expression)`` rows for display.

        A last row ``assumptions`` lists the conditions SymPy could not decide, if any.
        """
        rows = []
        for n in names or self.names:
            try:
                rows.append((n, sp.sstr(self.expression(n))))
            except ModelError as exc:
                rows.append((n, f"(not defined: {exc})"))
        conds = _unique([c for n in names or self.names for c in self.assumptions_for(n)])
        if conds:
            rows.append(("assumptions", ", ".join(sp.sstr(c) for c in conds)))
        return rows

    def __repr__(self) -> str:
        return (f"LinearDerivation(kind={self.kind!r}, dim={self.dim}, "
                f"symbols={[s.name for s in self.symbols]}, blocks={self.blocks})")


def derive_linear(A: Any, D: Any, *, blocks: Blocks | None = None,
                  temperatures: ArrayLike | None = None,
                  allow_slow: bool = False) -> LinearDerivation:
    r"""Derive every closed form of :math:`dx = -A x\,dt + \sqrt{2D}\,dW` symbolically.

    Parameters
    ----------
    A, D : sympy.Matrix, nested list or str
        Drift and diffusion matrices; entries may be numbers, SymPy expressions or strings such
        as ``"k + 1"``; a whole matrix may be a string ``"[[k, 1], [-1, k]]"``. Strings are read
        by :func:`parse_expression` (numbers, names, ``+ - * / ^ **``, parentheses, ``2k`` for
        ``2*k``, and ``sqrt, exp, log, sin, cos, tan, sinh, cosh, tanh, Abs, Rational``); nothing
        in them is executed. Every name becomes a real symbol.
    blocks : list, optional
        Subsystem split (sizes or index lists); default: one block per coordinate.
    temperatures : list, optional
        Bath temperature of each block (default: mean diagonal of D on the block); must be > 0.
    allow_slow : bool
        Derive even when the estimated time (:func:`stochthermo.symbolic.estimate_cost`, from
        the dimension and the number of symbols) exceeds ``SLOW_SECONDS``; otherwise such a
        model is refused before any work.

    Returns
    -------
    LinearDerivation
        Quantities are computed on first access and cached; ``assumptions`` lists the validity
        conditions SymPy could not decide.

    Raises
    ------
    ValidationError
        Text outside the grammar or its limits, complex or infinite entries, a ``D`` that is not
        symmetric or not positive semi-definite for any value of the symbols.
    UnstableModelError
        ``A`` not stable (an eigenvalue with non-positive real part), decided exactly by the
        Routh-Hurwitz conditions.
    ResourceError
        The derivation would be slow (see ``allow_slow``); the message says how to cut it.

    Notes
    -----
    Formulas and their derivations: ``theory/linear_langevin.md``. The stationary covariance is
    the unique solution of :math:`AC + CA^\top = 2D` [LL-cov]; the entropy production rate is
    :math:`\mathrm{tr}(A^\top D^{-1} A C) - \mathrm{tr} A` [LL-ep].

    The model is checked like ``stochthermo.LinearLangevin``: with :math:`a_k = e_k(A)` the
    coefficients of :math:`\det(\lambda I + A)`, :math:`A` is stable iff every :math:`a_k > 0`
    and the Hurwitz determinants :math:`\Delta_2, \dots, \Delta_{n-1} > 0`; the symmetric
    :math:`D` is positive semi-definite iff every :math:`e_k(D) \ge 0`. A condition that fails
    for every value of the symbols refuses the model; one SymPy cannot decide (symbols are only
    known to be real) is kept in ``assumptions`` and shown by :meth:`LinearDerivation.latex`,
    :meth:`LinearDerivation.table` and ``stochthermo derive``.

    Examples
    --------
    >>> from stochthermo.symbolic import derive_linear
    >>> d = derive_linear("[[k, 1], [-1, k]]", "[[T, 0], [0, T]]")
    >>> d.entropy_production_rate
    2/k
    >>> d.assumptions
    (k > 0, T >= 0)
    >>> d.compile("entropy_production_rate")(T=1.0, k=2.0)
    1.0
    """
    symbols: dict = {}
    A_ = parse_matrix(A, "A", symbols)
    D_ = parse_matrix(D, "D", symbols)
    if D_.shape != A_.shape:
        raise ShapeError(f"A has shape {A_.shape} but D has shape {D_.shape}; they must match")
    return LinearDerivation(A_, D_, blocks=blocks, temperatures=temperatures,
                            allow_slow=allow_slow)



def parse_sgd_inputs(hessian, grad_noise_cov, lr, batch_size, symbols: dict):
    """Parse (H, Sigma, r, b) of a linearized-SGD model; shapes and numeric lr, b checked."""
    H = parse_matrix(hessian, "hessian", symbols)
    S = parse_matrix(grad_noise_cov, "grad_noise_cov", symbols)
    if S.shape != H.shape:
        raise ShapeError(f"hessian has shape {H.shape} but grad_noise_cov has shape {S.shape}")
    r = parse_expression(lr, "lr", symbols)
    b = parse_expression(batch_size, "batch_size", symbols)
    if r.is_number and not r > 0:
        raise ValidationError(f"lr={lr!r} must be > 0")
    if b.is_number and not b >= 1:
        raise ValidationError(f"batch_size={batch_size!r} must be >= 1")
    return H, S, r, b

def derive_sgd(hessian: Any, grad_noise_cov: Any, lr: Any, batch_size: Any, *,
               blocks: Blocks | None = None, allow_slow: bool = False) -> LinearDerivation:
    r"""Closed forms of SGD near a minimum, in the Langevin limit and in discrete time.

    The Langevin limit has :math:`A = H`, :math:`D = r\Sigma/(2|b|)`; detailed balance holds iff
    :math:`[H, \Sigma] = 0` (attribute ``commutator``); ``discrete_covariance`` solves
    :math:`C = (I - rH) C (I - rH)^\top + r^2 \Sigma/|b|` exactly [SGD-cov].

    Parameters
    ----------
    hessian, grad_noise_cov : sympy.Matrix, nested list or str
        Symmetric :math:`H` and :math:`\Sigma`, read as in :func:`derive_linear`.
    lr, batch_size : number, SymPy expression or str
        Learning rate :math:`r > 0` and batch size :math:`|b| \ge 1`.
    blocks : list, optional
        Subsystem split (sizes or index lists); default: one block per coordinate.
    allow_slow : bool
        As in :func:`derive_linear`.

    Notes
    -----
    Checks (``theory/sgd.md``): :math:`H` positive definite, :math:`\Sigma` positive
    semi-definite, :math:`r > 0`, :math:`|b| \ge 1`, decided or stated in ``assumptions``; the
    update map :math:`I - rH` is stable iff :math:`e_k(2I - rH) > 0` for all :math:`k`, needed by
    ``discrete_covariance`` only (refused there when it fails, stated there when undecided).

    Examples
    --------
    >>> from stochthermo.symbolic import derive_sgd
    >>> d = derive_sgd("[[h, 0], [0, 1]]", "[[s, 0], [0, s]]", "r", "b")
    >>> d.commutator
    Matrix([
    [0, 0],
    [0, 0]])
    """
    symbols: dict = {}
    H, S, r, b = parse_sgd_inputs(hessian, grad_noise_cov, lr, batch_size, symbols)
    for label, M in (("hessian", H), ("grad_noise_cov", S)):
        if (M - M.T).applyfunc(sp.expand) != sp.zeros(*M.shape):
            raise ValidationError(f"{label} must be symmetric, got {short_repr(M.tolist())}")
    D = (r * S / (2 * b)).applyfunc(sp.cancel)
    return LinearDerivation(H, D, blocks=blocks, kind="sgd", allow_slow=allow_slow,
                            sgd={"H": H, "Sigma": S, "lr": r, "b": b})
