"""Numba kernels for the k-nearest-neighbour (KSG) information estimators.

Arrays and scalars in, arrays out; no validation. Slow twins: ``tests/naive_est.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "count_strict_1d",
    "count_strict_1d_parallel",
    "build_kdtree",
    "count_within_maxnorm",
    "count_within_maxnorm_parallel",
]


_CHUNK = 1024  # queries per parallel task


@njit(cache=True)
def _count_1d_range(sorted_vals, vals, eps, out, a, b):
    m = sorted_vals.shape[0]
    for i in range(a, b):
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


@njit(cache=True)
def count_strict_1d(sorted_vals, vals, eps, out):
    """``out[i]`` = number of ``sorted_vals`` with ``|s - vals[i]| < eps[i]`` (strict).

    ``sorted_vals`` is ascending. Two binary searches per point, O(N log N) in all; the
    predicates are evaluated with the same floating-point subtraction as a direct comparison,
    so the count is exact. The self point is included when ``vals`` is a permutation of
    ``sorted_vals``. One thread; :func:`count_strict_1d_parallel` splits the queries over
    Numba's threads with identical results.
    """
    _count_1d_range(sorted_vals, vals, eps, out, 0, vals.shape[0])


@njit(cache=True, parallel=True)
def count_strict_1d_parallel(sorted_vals, vals, eps, out):
    """:func:`count_strict_1d` with the queries split into chunks over Numba's threads."""
    n = vals.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        _count_1d_range(sorted_vals, vals, eps, out, c * _CHUNK, min(n, (c + 1) * _CHUNK))


@njit(cache=True)
def build_kdtree(points, leaf_size):
    """Build a KD-tree over ``points`` (n, d) for max-norm range counting.

    Returns ``(perm, lo, hi, start, stop, left, right, n_nodes)``: ``points[perm]`` is the
    tree order; node ``j`` holds ``perm[start[j]:stop[j]]`` with tight bounding box
    ``lo[j]``, ``hi[j]`` and children ``left[j]``, ``right[j]`` (-1 for a leaf). Split on the
    widest coordinate at the median.
    """
    n, d = points.shape
    max_nodes = 2 * (n // max(leaf_size, 1) + 1) * 2 + 1
    lo = np.empty((max_nodes, d))
    hi = np.empty((max_nodes, d))
    start = np.empty(max_nodes, dtype=np.int64)
    stop = np.empty(max_nodes, dtype=np.int64)
    left = np.full(max_nodes, -1, dtype=np.int64)
    right = np.full(max_nodes, -1, dtype=np.int64)
    perm = np.arange(n)
    stack = np.empty(max_nodes, dtype=np.int64)
    n_nodes = 1
    start[0] = 0
    stop[0] = n
    top = 0
    stack[0] = 0
    while top >= 0:
        node = stack[top]
        top -= 1
        a = start[node]
        b = stop[node]
        for k in range(d):
            mn = np.inf
            mx = -np.inf
            for j in range(a, b):
                v = points[perm[j], k]
                if v < mn:
                    mn = v
                if v > mx:
                    mx = v
            lo[node, k] = mn
            hi[node, k] = mx
        if b - a <= leaf_size:
            continue
        dim = 0
        width = -1.0
        for k in range(d):
            w = hi[node, k] - lo[node, k]
            if w > width:
                width = w
                dim = k
        if width <= 0.0:
            continue  # all points identical: keep as a leaf
        seg = perm[a:b].copy()
        order = np.argsort(points[seg, dim], kind="mergesort")
        perm[a:b] = seg[order]
        mid = a + (b - a) // 2
        for child, (s0, s1) in enumerate(((a, mid), (mid, b))):
            c = n_nodes
            n_nodes += 1
            start[c] = s0
            stop[c] = s1
            if child == 0:
                left[node] = c
            else:
                right[node] = c
            top += 1
            stack[top] = c
    return perm, lo, hi, start, stop, left, right, n_nodes


@njit(cache=True)
def _count_tree_range(points, lo, hi, start, stop, left, right, queries, eps, out, a, b):
    d = points.shape[1]
    stack = np.empty(128, dtype=np.int64)
    for i in range(a, b):
        e = eps[i]
        top = 0
        stack[0] = 0
        total = 0
        while top >= 0:
            node = stack[top]
            top -= 1
            disjoint = False
            inside = True
            for k in range(d):
                q = queries[i, k]
                if lo[node, k] - q >= e or q - hi[node, k] >= e:
                    disjoint = True
                    break
                if not (q - lo[node, k] < e and hi[node, k] - q < e):
                    inside = False
            if disjoint:
                continue
            if inside:
                total += stop[node] - start[node]
                continue
            if left[node] < 0:
                for j in range(start[node], stop[node]):
                    ok = True
                    for k in range(d):
                        if abs(points[j, k] - queries[i, k]) >= e:
                            ok = False
                            break
                    if ok:
                        total += 1
                continue
            top += 1
            stack[top] = left[node]
            top += 1
            stack[top] = right[node]
        out[i] = total


@njit(cache=True)
def count_within_maxnorm(points, perm, lo, hi, start, stop, left, right, queries, eps, out):
    """``out[i]`` = number of ``points`` with ``max_k |p_k - queries[i, k]| < eps[i]`` (strict).

    ``points`` must be in tree order (``original[perm]``, contiguous, so that leaf scans read
    consecutive memory); ``perm`` is kept in the signature for symmetry with the builder.
    Tree built by :func:`build_kdtree`; passing the queries in tree order too improves cache
    reuse. Whole nodes are counted at once when their bounding
    box lies inside the query box and skipped when disjoint; the comparisons use the same
    floating-point subtraction as a direct test, so counts are exact.
    """
    _count_tree_range(points, lo, hi, start, stop, left, right, queries, eps, out, 0,
                      queries.shape[0])


@njit(cache=True, parallel=True)
def count_within_maxnorm_parallel(points, perm, lo, hi, start, stop, left, right, queries, eps,
                                  out):
    """:func:`count_within_maxnorm` with the queries split into chunks over Numba's threads."""
    n = queries.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        _count_tree_range(points, lo, hi, start, stop, left, right, queries, eps, out,
                          c * _CHUNK, min(n, (c + 1) * _CHUNK))
