r"""Validity conditions of a symbolic model, decided where possible and stated where not.

The numeric models refuse an unstable drift and a diffusion matrix that is not positive
semi-definite (``stochthermo.LinearLangevin``). For matrices with symbols the same checks become
polynomial inequalities in the symbols, obtained from the characteristic polynomial:

* **Stability** of :math:`dx = -Ax\,dt + \dots` means every eigenvalue of :math:`A` has a
  positive real part, i.e. :math:`q(\lambda) = \det(\lambda I + A) = \lambda^n + a_1
  \lambda^{n-1} + \dots + a_n` is a Hurwitz polynomial, with :math:`a_k = e_k(A)` the sum of the
  principal :math:`k \times k` minors of :math:`A`. Routh-Hurwitz: every :math:`a_k > 0` and the
  Hurwitz determinants :math:`\Delta_2, \dots, \Delta_{n-1} > 0` (:math:`\Delta_1 = a_1` and
  :math:`\Delta_n = a_n \Delta_{n-1}` are then implied). For ``n = 2``: :math:`\mathrm{tr} A > 0`,
  :math:`\det A > 0`; for ``n = 3`` also :math:`a_1 a_2 - a_3 > 0`. A symmetric or triangular
  :math:`A` needs only :math:`a_k > 0` (real eigenvalues), resp. its diagonal entries :math:`> 0`.
* **Positive semi-definiteness** of a symmetric :math:`D`: its eigenvalues are real, so they are
  all :math:`\ge 0` iff every :math:`e_k(D) \ge 0` (the coefficients of :math:`\det(\lambda I +
  D) = \prod_i (\lambda + \mu_i)` are the elementary symmetric functions of the eigenvalues
  :math:`\mu_i`, and a polynomial with non-negative coefficients has no positive root). A
  diagonal :math:`D` needs its diagonal entries :math:`\ge 0`.

Each condition is decided by SymPy from the symbols' assumptions (symbols are real); a condition
that fails for every value refuses the model, one SymPy cannot decide is returned as an
assumption of the derivation. See ``theory/linear_langevin.md`` [LL-def].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
from sympy.polys.constructor import construct_domain
from sympy.polys.matrices import DomainMatrix

from .._validation import short_repr
from ..errors import UnstableModelError, ValidationError
from ._factor import factor
from ._parse import expanded_terms

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "stability_conditions", "psd_conditions", "realness_conditions", "decide", "prune",
    "check_model",
]

_MAX_DECIDE_OPS = 2000  # larger conditions are stated, not decided (the assumption system stalls)


def _coefficients(M: sp.Matrix) -> tuple[list, Any, Any]:
    """``[e_1(M), ..., e_n(M)]`` as SymPy expressions (Berkowitz, over the entries' field).

    Returned with the field ``K`` and the characteristic polynomial's coefficients over it.
    """
    n = M.shape[0]
    K, elems = construct_domain(list(M), field=True)
    dm = DomainMatrix([elems[i * n:(i + 1) * n] for i in range(n)], (n, n), K)
    cp = dm.charpoly()  # det(lambda I - M) = sum_k (-1)^k e_k lambda^(n-k)
    return [K.to_sympy(cp[k] if k % 2 == 0 else -cp[k]) for k in range(1, n + 1)], K, cp


def _tidy(expr):
    """The shortest of the cancelled, factored and expanded forms, without a positive content.

    ``-2*(r - 1)`` becomes ``1 - r``; the sign of the condition is unchanged.
    """
    if sp.count_ops(expr) >= 400 or expanded_terms(expr, 201) > 200:
        return expr
    expr = sp.cancel(expr)
    forms = [expr]
    if sp.count_ops(expr) < 400:
        forms += [factor(expr), sp.expand(expr)]
    out = []
    for f in forms:
        content, prim = f.as_content_primitive()
        out.append(prim if content.is_positive else f)
    return min(out, key=lambda f: (sp.count_ops(f), len(sp.sstr(f))))


def _is_diagonal(M) -> bool:
    n = M.shape[0]
    return all(M[i, j] == 0 for i in range(n) for j in range(n) if i != j)


def _is_triangular(M) -> bool:
    return M.is_upper or M.is_lower


def stability_conditions(A: sp.Matrix) -> list:
    """Expressions that must all be ``> 0`` for ``A`` to be stable (Routh-Hurwitz)."""
    n = A.shape[0]
    if _is_triangular(A):
        return [A[i, i] for i in range(n)]
    coeffs, K, cp = _coefficients(A)
    conds = list(coeffs)
    if n >= 3 and (A - A.T).applyfunc(sp.expand) != sp.zeros(n, n):
        a = [K.one] + [cp[k] if k % 2 == 0 else -cp[k] for k in range(1, n + 1)]

        def coef(k):
            return a[k] if 0 <= k <= n else K.zero

        for m in range(2, n):
            H = DomainMatrix([[coef(2 * (j + 1) - (i + 1)) for j in range(m)] for i in range(m)],
                             (m, m), K)
            conds.append(K.to_sympy(H.det()))
    return conds


def psd_conditions(D: sp.Matrix) -> list:
    """Expressions that must all be ``>= 0`` for a symmetric ``D`` to be positive semi-definite."""
    n = D.shape[0]
    if _is_diagonal(D):
        return [D[i, i] for i in range(n)]
    return _coefficients(D)[0]


def realness_conditions(expr) -> list:
    """Relations under which ``expr`` is real: radicands ``>= 0``, logarithm arguments ``> 0``."""
    out = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Pow) and not node.exp.is_integer and node.base.is_nonnegative \
                is not True:
            if node.exp.is_Rational:
                out.append(sp.Ge(node.base, 0) if node.exp > 0 else sp.Gt(node.base, 0))
            else:
                out.append(sp.Gt(node.base, 0))
        elif isinstance(node, sp.log) and node.args[0].is_positive is not True:
            out.append(sp.Gt(node.args[0], 0))
    return out


def decide(expr, strict: bool):
    """True / False when SymPy decides ``expr > 0`` (``>= 0`` unless strict), else the relation."""
    expr = _tidy(expr)
    if sp.count_ops(expr) <= _MAX_DECIDE_OPS:
        val = expr.is_positive if strict else expr.is_nonnegative
        if val is not None:
            return bool(val)
    return sp.Gt(expr, 0) if strict else sp.Ge(expr, 0)


def _float_eigs(M):
    try:
        return np.linalg.eigvals(np.array(M.evalf(20).tolist(), dtype=float))
    except (TypeError, ValueError, np.linalg.LinAlgError):
        return None


def _eigenvalue_note(M: sp.Matrix, pick: Callable[[np.ndarray], Any]) -> str:
    """Where a refused condition fails: the eigenvalue ``pick(eigenvalues)`` of a numeric ``M``.

    ``"; it has the eigenvalue <value>"``, or ``" for every value of the symbols"`` when ``M``
    has symbols (or its eigenvalues cannot be computed).
    """
    eig = _float_eigs(M) if not M.free_symbols else None
    if eig is not None and eig.size:
        return f"; it has the eigenvalue {pick(eig):.4g}"
    return " for every value of the symbols"


def check_model(A: sp.Matrix, D: sp.Matrix, *, name_A: str = "A", name_D: str = "D",
                psd_matrix: sp.Matrix | None = None) -> list:
    """Refuse a model that can never be valid; return the conditions SymPy cannot decide.

    ``psd_matrix`` (default ``D``) is the matrix whose positive semi-definiteness is checked
    (for SGD, the gradient-noise covariance). Raises :class:`UnstableModelError` or
    :class:`ValidationError` with the failing condition.
    """
    P = D if psd_matrix is None else psd_matrix
    assumptions = []
    for i, e in enumerate(list(A) + list(P)):
        if e.is_real is False:
            which = name_A if i < len(A) else name_D
            raise ValidationError(f"{which} has the entry {e}, which is not real for any value")
        assumptions.extend(realness_conditions(e))
    for cond in stability_conditions(A):
        res = decide(cond, strict=True)
        if res is False:
            where = _eigenvalue_note(A, lambda eig: eig[np.argmin(eig.real)])
            raise UnstableModelError(
                f"{name_A} must be stable (every eigenvalue with a positive real part), but the "
                f"Routh-Hurwitz condition {_tidy(cond)} > 0 fails{where} ({short_repr(A.tolist())})"
                "; the process has no stationary state. Near a minimum the Hessian must be "
                "positive definite"
            )
        if res is not True:
            assumptions.append(res)
    for cond in psd_conditions(P):
        res = decide(cond, strict=False)
        if res is False:
            where = _eigenvalue_note(P, lambda eig: min(eig.real))
            raise ValidationError(
                f"{name_D} must be positive semi-definite, but the condition {_tidy(cond)} >= 0 "
                f"fails{where} ({short_repr(P.tolist())}); a diffusion or covariance matrix "
                "cannot have negative eigenvalues"
            )
        if res is not True:
            assumptions.append(res)
    return prune(assumptions)


def prune(rels) -> list:
    """Drop stated conditions implied by the simple ones (``k > 0``, ``T >= 0``) among them.

    Each symbol with a simple condition is replaced by a positive (non-negative) stand-in and
    the other conditions are decided again: ``k**2 + w**2 > 0`` goes once ``k > 0`` is stated.
    Conditions that then fail for every value contradict the others: a ValidationError.
    """
    rels = _unique(rels)
    sub = {}
    for r in rels:
        if isinstance(r, (sp.StrictGreaterThan, sp.GreaterThan)) and r.rhs == 0 \
                and isinstance(r.lhs, sp.Symbol):
            strict = isinstance(r, sp.StrictGreaterThan)
            if r.lhs not in sub or strict:
                sub[r.lhs] = sp.Dummy(r.lhs.name, positive=True) if strict else \
                    sp.Dummy(r.lhs.name, nonnegative=True)
    if not sub:
        return rels
    out = []
    for r in rels:
        if isinstance(r.lhs, sp.Symbol) and r.rhs == 0:
            out.append(r)
            continue
        lhs = r.lhs.xreplace(sub) - r.rhs
        val = decide(lhs, strict=isinstance(r, sp.StrictGreaterThan))
        if val is False:
            raise ValidationError(
                f"the model's conditions contradict each other: {r} cannot hold together with "
                f"{', '.join(str(x) for x in rels if x is not r)}; it is valid for no value"
            )
        if val is not True:
            out.append(r)
    return out


def _unique(rels) -> list:
    seen, out = set(), []
    for r in rels:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out
