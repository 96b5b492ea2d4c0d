r"""Up-front estimate of the time a symbolic derivation takes, and the guard that uses it.

The work is dominated by the fraction-free solution of the Lyapunov system (``n(n+1)/2``
unknowns whose coefficients are polynomials in the symbols) and by the quantities that need
:math:`D^{-1}` and :math:`C^{-1}`. Its cost grows exponentially with the number of symbols in the
drift, more slowly with symbols on the diagonal of :math:`D`, steeply with symbols off the
diagonal of :math:`D` (they enter :math:`D^{-1}`), and with the dimension. The model below is

.. math:: \log t = c_n + \alpha_n s_A + \beta s_D + \gamma_n s_{D,\mathrm{off}},

with :math:`s_A` the symbols of :math:`A`, :math:`s_D` the other symbols and
:math:`s_{D,\mathrm{off}}` the symbolic off-diagonal entries of the upper triangle of :math:`D`,
fitted to measured derivations of every quantity (see ``CALIBRATION``). It is a guard, not a
promise: it errs on the slow side so that a refused model would indeed have taken minutes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import sympy as sp

from ..errors import ResourceError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = [
    "estimate_cost", "check_cost", "SLOW_SECONDS", "CALIBRATION", "NUMERIC_CALIBRATION",
]

#: derivations estimated above this many seconds are refused unless ``allow_slow=True``
SLOW_SECONDS = 60.0

#: measured seconds for every quantity (one run each, on a shared 2-core machine while other
#: work ran): (n, symbols in A, other symbols, symbolic off-diagonal entries of D) -> seconds;
#: None: stopped after 150-200 s
CALIBRATION = {
    (2, 4, 2, 0): 1.4,
    (2, 4, 3, 1): 2.0,
    (3, 3, 0, 0): 1.8,
    (3, 6, 0, 0): 6.3,
    (3, 9, 0, 0): 16.4,
    (3, 3, 3, 0): 3.8,
    (3, 6, 3, 0): 9.8,
    (3, 9, 3, 0): 20.2,
    (3, 3, 6, 3): 4.7,
    (3, 6, 6, 3): 16.0,
    (3, 9, 6, 3): 68.4,
    (4, 2, 0, 0): 12.5,
    (4, 4, 0, 0): 22.3,
    (4, 1, 4, 0): 19.3,
    (4, 4, 4, 0): 36.4,
    (4, 8, 0, 0): None,
    (5, 2, 0, 0): 116.0,
    (5, 1, 5, 0): None,
    (6, 1, 0, 0): None,
}

#: models without symbols: (n, total bits of their numbers) -> measured seconds
NUMERIC_CALIBRATION = {
    (8, 300): 0.23,
    (12, 700): 0.86,
    (4, 3200): 0.6,
    (4, 32000): 71.5,
}

# log-seconds model fitted to CALIBRATION: intercept and slopes by dimension; beyond n = 5 the
# intercept grows by 2.2 per dimension (a factor 9, as from n = 4 to n = 5)
_INTERCEPT = {1: -3.0, 2: -1.1, 3: -0.5, 4: 1.6, 5: 4.15}
_SLOPE_A = {1: 0.2, 2: 0.3, 3: 0.37, 4: 0.45, 5: 0.45}
_SLOPE_D = 0.15
_SLOPE_OFF = {1: 0.0, 2: 0.2, 3: 0.15, 4: 0.2, 5: 0.2}


def _params(n: int):
    if n in _INTERCEPT:
        return _INTERCEPT[n], _SLOPE_A[n], _SLOPE_OFF[n]
    return _INTERCEPT[5] + 2.2 * (n - 5), _SLOPE_A[5], _SLOPE_OFF[5]


def _counts(A: sp.Matrix, D: sp.Matrix, extra_symbols=()):
    sym_A = set().union(*[e.free_symbols for e in A])
    sym_all = sym_A.union(*[e.free_symbols for e in D], set(extra_symbols))
    n = A.shape[0]
    off = sum(1 for i in range(n) for j in range(i + 1, n) if D[i, j].free_symbols)
    return n, len(sym_A), len(sym_all) - len(sym_A), off


def _number_bits(A: sp.Matrix, D: sp.Matrix) -> int:
    """Total size of the exact numbers in the model (bits of numerator or denominator)."""
    total = 0
    for e in list(A) + list(D):
        for q in e.atoms(sp.Rational):
            total += max(int(q.p).bit_length(), int(q.q).bit_length())
    return total


def estimate_cost(A: sp.Matrix, D: sp.Matrix, extra_symbols: Sequence[Any] = ()) -> float:
    r"""Rough seconds to derive every quantity of the model ``(A, D)`` (see module notes).

    ``A`` and ``D`` may be anything :func:`stochthermo.symbolic.parse_matrix` accepts. Large
    exact numbers add a term growing with the square of their total size in bits (the
    fraction-free solve multiplies them together): :math:`t_{\mathrm{num}} = 5\cdot 10^{-4}
    n^3 + 7\cdot 10^{-8} B^2 (m/10)^2` with ``B`` the total bits and ``m = n(n+1)/2``
    (``NUMERIC_CALIBRATION``). Entries that expand to ``T > 10`` terms multiply the symbolic
    part by ``T / 10`` (a 1x1 model ``(a + b + c)^60``, 1891 terms, took 10 s).

    Examples
    --------
    >>> from stochthermo.symbolic import estimate_cost
    >>> estimate_cost("[[a, b], [c, e]]", "[[p, q], [q, s]]") < 5
    True
    """
    if not isinstance(A, sp.MatrixBase) or not isinstance(D, sp.MatrixBase):
        from ._parse import parse_matrix

        symbols: dict = {}
        A, D = parse_matrix(A, "A", symbols), parse_matrix(D, "D", symbols)
    n, s_a, s_d, off = _counts(A, D, extra_symbols)
    m = n * (n + 1) // 2
    numeric = 5e-4 * n**3 + 7e-8 * _number_bits(A, D) ** 2 * (m / 10) ** 2
    if s_a + s_d == 0:
        return numeric
    c, alpha, gamma = _params(n)
    # entries that expand to many terms, like (a + b + c)^60, scale the work about linearly
    from ._parse import expanded_terms

    terms = max((expanded_terms(e, 10**6) for e in list(A) + list(D) if e.free_symbols),
                default=1)  # symbols only in extra_symbols: nothing expands
    bulk = max(1.0, terms / 10)
    return bulk * math.exp(c + alpha * s_a + _SLOPE_D * s_d + gamma * off) + numeric


def check_cost(A: sp.Matrix, D: sp.Matrix, *, allow_slow: bool = False,
               extra_symbols=()) -> float:
    """Return :func:`estimate_cost`; raise :class:`ResourceError` above ``SLOW_SECONDS``.

    ``allow_slow=True`` lifts the limit. The message names the model's size and what to do.
    """
    est = estimate_cost(A, D, extra_symbols)
    if est > SLOW_SECONDS and not allow_slow:
        n, s_a, s_d, off = _counts(A, D, extra_symbols)
        shown = f"{est:.0f} s" if est < 1e5 else "more than a day"
        raise ResourceError(
            f"a symbolic derivation of this {n}x{n} model ({s_a} symbols in the drift, {s_d} "
            f"more elsewhere, {off} symbolic off-diagonal entries of D) is estimated to take "
            f"{shown} (the limit is {SLOW_SECONDS:.0f} s); nothing was started. Give numeric "
            "values for some entries (off-diagonal entries of D first, then drift entries) or "
            "shorter numbers, use stochthermo.exact for numbers, or pass allow_slow=True to "
            "derive anyway"
        )
    return est
