"""Numba kernels for the k-nearest-neighbour (KSG) information estimators.

Arrays and scalars in, arrays out; no validation. Slow twins: ``tests/naive_est.py``.
"""

from __future__ import annotations

from numba import njit, prange

__all__ = ["count_strict_1d"]


@njit(cache=True, parallel=True)
def count_strict_1d(sorted_vals, vals, eps, out):
    """``out[i]`` = number of ``sorted_vals`` with ``|s - vals[i]| < eps[i]`` (strict).

    ``sorted_vals`` is ascending. Two binary searches per point, O(N log N) in all; the
    predicates are evaluated with the same floating-point subtraction as a direct comparison,
    so the count is exact. The self point is included when ``vals`` is a permutation of
    ``sorted_vals``.
    """
    m = sorted_vals.shape[0]
    for i in prange(vals.shape[0]):
        v = vals[i]
        e = eps[i]
        lo = 0
        hi = m
        while lo < hi:  # first j with v - s[j] < e
            mid = (lo + hi) // 2
            if v - sorted_vals[mid] < e:
                hi = mid
            else:
                lo = mid + 1
        first = lo
        hi = m
        while lo < hi:  # first j with s[j] - v >= e
            mid = (lo + hi) // 2
            if sorted_vals[mid] - v >= e:
                hi = mid
            else:
                lo = mid + 1
        out[i] = lo - first
