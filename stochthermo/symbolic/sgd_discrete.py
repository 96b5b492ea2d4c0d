r"""Exact discrete-time entropy production of linearized SGD, as SymPy.

For the map ``theta' = P theta + eps`` with ``P = I - r H`` and ``Cov(eps) = Q = r^2 Sigma/|b|``
the stationary covariance solves ``C = P C P^T + Q`` and the entropy production per step is the
path KL of a step against its time reverse,

.. math::
    \Sigma_{\rm step} = \tfrac12\big[\mathrm{tr}(Q^{-1} M) - d\big], \qquad
    M = (I - P^2) C (I - P^2)^\top + P Q P^\top,

per unit time ``t = r n``: ``Sigma_step / r`` (``theory/estimators.md`` [EST-sgd-discrete]).
The numeric twin is :func:`stochthermo.exact.entropy_production` with ``discrete=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

from ..errors import ResourceError, UnstableModelError, ValidationError
from ._cost import SLOW_SECONDS, estimate_cost
from ._factor import factor
from .linear import parse_sgd_inputs

if TYPE_CHECKING:
    from typing import Any


__all__ = ["derive_sgd_discrete", "SGDDiscreteDerivation"]


@dataclass(frozen=True)
class SGDDiscreteDerivation:
    """Closed forms of the discrete SGD map.

    Attributes
    ----------
    update, noise : sympy.Matrix
        ``P = I - r H`` and ``Q = r^2 Sigma / |b|``.
    covariance : sympy.Matrix
        Stationary ``C`` solving ``C = P C P^T + Q``.
    per_step : sympy.Expr
        Entropy production per step (nats).
    rate : sympy.Expr
        Per unit time ``t = r n``: ``per_step / r``.
    symbols : tuple of sympy.Symbol
        Free symbols, sorted by name.
    """

    update: sp.Matrix
    noise: sp.Matrix
    covariance: sp.Matrix
    per_step: sp.Expr
    rate: sp.Expr
    symbols: tuple

    def evaluate(self, **values: Any) -> float:
        """``rate`` at numeric values of the symbols (keyword arguments by name)."""
        names = {str(s): s for s in self.symbols}
        missing = sorted(set(names) - set(values))
        extra = sorted(set(values) - set(names))
        if missing or extra:
            raise ValidationError(
                f"evaluate() takes the symbols {sorted(names)}; missing {missing}, "
                f"unexpected {extra}"
            )
        return float(self.rate.subs({names[k]: v for k, v in values.items()}).evalf())


def _discrete_lyapunov(P: sp.Matrix, Q: sp.Matrix) -> sp.Matrix:
    n = P.shape[0]
    cs = {}
    for i in range(n):
        for j in range(i, n):
            cs[(i, j)] = cs[(j, i)] = sp.Dummy(f"c{i}{j}")
    C = sp.Matrix(n, n, lambda i, j: cs[(i, j)])
    eqs = [e for (i, j), e in zip(
        [(i, j) for i in range(n) for j in range(n)], C - P * C * P.T - Q, strict=True)
        if i <= j]
    unknowns = [cs[(i, j)] for i in range(n) for j in range(i, n)]
    sol = sp.solve(eqs, unknowns, dict=True)
    if not sol:
        raise ValidationError("the discrete Lyapunov equation C = P C P^T + Q has no solution")
    return C.subs(sol[0]).applyfunc(sp.cancel)


def derive_sgd_discrete(hessian: Any, grad_noise_cov: Any, lr: Any,
                        batch_size: Any) -> SGDDiscreteDerivation:
    r"""Exact discrete-time entropy production of SGD near a minimum (SymPy).

    Parameters
    ----------
    hessian, grad_noise_cov : sympy.Matrix, nested list or str
        Symmetric :math:`H` and :math:`\Sigma` (e.g. ``"[[h, 0], [0, 1]]"``).
    lr, batch_size : number, SymPy expression or str
        Learning rate :math:`r` and batch size :math:`|b|`.

    Returns
    -------
    SGDDiscreteDerivation

    Notes
    -----
    Zero iff :math:`PC` is symmetric, in particular when :math:`H` and :math:`\Sigma` commute;
    tends to the continuous rate :math:`\mathrm{tr}(H D^{-1} H C_c) - \mathrm{tr} H` with
    :math:`D = r\Sigma/(2|b|)` as :math:`r \to 0`, with an :math:`O(r)` correction.
    ``theory/estimators.md`` [EST-sgd-discrete]. Practical for ``d <= 2`` with symbols.

    Examples
    --------
    >>> from stochthermo.symbolic import derive_sgd_discrete
    >>> d = derive_sgd_discrete("[[1, 0], [0, 2]]", "[[1, 0], [0, 3]]", "r", 4)
    >>> d.rate
    0
    """
    symbols: dict = {}
    H, S, r, b = parse_sgd_inputs(hessian, grad_noise_cov, lr, batch_size, symbols)
    n = H.shape[0]
    # the discrete Lyapunov solve costs about ten times the continuous one (measured on 2x2
    # and 3x3 models); refuse before starting what would run for minutes
    seconds = 10.0 * estimate_cost(H, S, extra_symbols=tuple(r.free_symbols | b.free_symbols))
    if seconds > SLOW_SECONDS:
        raise ResourceError(
            f"the discrete-time derivation of this {n}x{n} model is estimated to take "
            f"{seconds:.3g} s (the limit is {SLOW_SECONDS:.0f} s); nothing was started. Give "
            "numbers for some symbols, or use stochthermo.exact.entropy_production(sgd, "
            "discrete=True) for numbers"
        )
    eye = sp.eye(n)
    P = eye - r * H
    if not P.free_symbols:
        import numpy as np

        radius = float(np.abs(np.linalg.eigvals(np.array(P.tolist(), dtype=float))).max())
        if radius >= 1:
            raise UnstableModelError(
                f"the SGD map I - lr H has spectral radius {radius:.4g} >= 1 (lr={lr!r}), so the "
                "iteration diverges and has no stationary state; use lr < 2 / (largest "
                "eigenvalue of the Hessian)"
            )
    Q = (r**2 * S / b).applyfunc(sp.cancel)
    C = _discrete_lyapunov(P, Q)
    K = eye - P * P
    M = K * C * K.T + P * Q * P.T
    per_step = factor(sp.cancel((Q.LUsolve(M).trace() - n) / 2))
    rate = factor(sp.cancel(per_step / r))
    free = tuple(sorted(rate.free_symbols | H.free_symbols | S.free_symbols
                        | r.free_symbols | b.free_symbols, key=str))
    return SGDDiscreteDerivation(P, Q, C, per_step, rate, free)
