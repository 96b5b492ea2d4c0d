r"""Function bases for force/current inference: polynomials, Fourier modes, user callables.

A basis maps points ``X`` of shape ``(N, d)`` to values ``(N, n_b)``. Polynomial and Fourier
bases are *nested*: their functions are ordered by degree (or wave number), so the basis of a
lower order is a leading block of a higher one, and one Gram matrix serves every order (basis
selection, lack-of-fit checks). See ``theory/estimators.md`` [EST-ep-inf].
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations_with_replacement, product
from math import comb

import numpy as np

from .._validation import as_float_array, short_repr
from ..errors import ValidationError

__all__ = ["Basis", "make_basis", "poly_size"]

# above this many functions a basis is refused (Gram matrices of n_b^2 entries per point)
MAX_FUNCTIONS = 400


def poly_size(d: int, degree: int) -> int:
    """Number of monomials of total degree <= ``degree`` in ``d`` variables."""
    return comb(d + degree, degree)


class Basis:
    """A (possibly nested) set of functions ``b_a(x)``.

    Attributes
    ----------
    name : str
        ``"poly3"``, ``"fourier2"``, ``"callable"``...
    size : int
        Number of functions ``n_b``.
    orders : tuple of (int, int)
        ``(order, n_functions)`` of the nested sub-bases (leading blocks), lowest first; a
        callable basis has one entry.
    """

    def __init__(self, name, size, orders, fn, kind, order=None):
        self.name, self.size, self.orders, self._fn = name, size, tuple(orders), fn
        self.kind, self.order = kind, order

    def __call__(self, X: np.ndarray) -> np.ndarray:
        B = self._fn(X)
        if B.shape != (X.shape[0], self.size):
            raise ValidationError(
                f"basis {self.name!r} returned shape {B.shape} for {X.shape[0]} points; "
                f"expected ({X.shape[0]}, {self.size})"
            )
        if not np.all(np.isfinite(B)):
            raise ValidationError(f"basis {self.name!r} returned non-finite values on the data")
        return B

    def __repr__(self):
        return f"Basis({self.name!r}, size={self.size})"

    def free_dims(self, nb: int, d: int):
        r"""Dimension of the non-gradient part of the vector fields ``b_a e_mu`` (``a < nb``).

        The Stratonovich projection of a gradient field is a boundary term
        (``int grad phi o dx = phi(x_T) - phi(x_0)``), so it carries no O(1/T) noise: only the
        other ``d n_b - n_grad`` directions bias the quadratic form ([EST-ep-inf]). Polynomials
        of degree <= k contain the gradients of degree k + 1 (``poly_size(d, k+1) - 1``
        of them); a Fourier basis the gradients of its non-constant modes (``n_b - 1``). For
        a user basis it is unknown (``None``).
        """
        if self.kind == "poly":
            for o, n in self.orders:
                if n == nb:
                    return d * nb - (poly_size(d, o + 1) - 1)
        if self.kind == "fourier":
            return d * nb - (nb - 1)
        return None


def _poly_basis(d, degree, center, scale):
    exps: list[tuple[int, ...]] = []  # index tuples of the monomials, ordered by total degree
    for k in range(degree + 1):
        exps.extend(combinations_with_replacement(range(d), k))
    index = {e: i for i, e in enumerate(exps)}
    parent = [(index[e[:-1]], e[-1]) if e else (-1, -1) for e in exps]

    def fn(X):
        Z = (X - center) / scale
        B = np.empty((X.shape[0], len(exps)))
        B[:, 0] = 1.0
        for i in range(1, len(exps)):
            p, j = parent[i]
            np.multiply(B[:, p], Z[:, j], out=B[:, i])
        return B

    orders = [(k, poly_size(d, k)) for k in range(degree + 1)]
    return Basis(f"poly{degree}", len(exps), orders, fn, "poly", degree), exps


def _fourier_basis(d, order, period):
    # wave vectors with |k|_inf <= order, one of each +-k pair, ordered by |k|_inf
    ks = [np.zeros(d, dtype=np.int64)]
    sizes = [1]
    for m in range(1, order + 1):
        shell = []
        for kt in product(range(-m, m + 1), repeat=d):
            k = np.array(kt)
            if np.abs(k).max() != m:
                continue
            nz = k[np.flatnonzero(k)[0]]
            if nz > 0:
                shell.append(k)
        ks.extend(shell)
        sizes.append(sizes[-1] + 2 * len(shell))
    K = np.array(ks[1:], dtype=np.float64).reshape(-1, d)
    w = 2.0 * np.pi / period
    # columns: 1, then for each shell its cosines and sines (keeps the nesting by shell)
    shell_of = [0]
    for m in range(1, order + 1):
        shell_of.extend([m] * ((sizes[m] - sizes[m - 1]) // 2))

    def fn(X):
        ph = (X * w) @ K.T  # (N, n_k)
        B = np.empty((X.shape[0], sizes[-1]))
        B[:, 0] = 1.0
        col, start = 1, 0
        for m in range(1, order + 1):
            n = (sizes[m] - sizes[m - 1]) // 2
            B[:, col : col + n] = np.cos(ph[:, start : start + n])
            B[:, col + n : col + 2 * n] = np.sin(ph[:, start : start + n])
            col += 2 * n
            start += n
        return B

    orders = [(m, sizes[m]) for m in range(order + 1)]
    return Basis(f"fourier{order}", sizes[-1], orders, fn, "fourier", order)


def _callable_basis(spec, d):
    if callable(spec):
        funcs = [spec]
        single = True
    else:
        funcs = list(spec)
        single = False
        for i, f in enumerate(funcs):
            if not callable(f):
                raise ValidationError(
                    f"basis[{i}]={short_repr(f)} is not callable; pass functions f(X) of points "
                    "X with shape (N, dim) returning (N,) values"
                )
    probe = np.zeros((2, d))
    try:
        if single:
            out = np.asarray(spec(probe), dtype=np.float64)
            if out.ndim == 1:
                out = out[:, None]
        else:
            out = np.stack([np.asarray(f(probe), dtype=np.float64) for f in funcs], axis=1)
    except Exception as exc:  # user code: report what went wrong, as our own error
        raise ValidationError(
            f"the basis function(s) failed on an array of shape (2, {d}) ({exc!r}); each must map "
            "points X of shape (N, dim) to an array (N, n_b) (one callable) or (N,) (a list)"
        ) from exc
    if out.ndim != 2 or out.shape[0] != 2:
        raise ValidationError(
            f"the basis returned shape {out.shape} for 2 points; expected (2, n_b)"
        )
    n_b = out.shape[1]

    def fn(X):
        if single:
            B = np.asarray(spec(X), dtype=np.float64)
            return B[:, None] if B.ndim == 1 else B
        return np.stack([np.asarray(f(X), dtype=np.float64) for f in funcs], axis=1)

    return Basis("callable", n_b, [(0, n_b)], fn, "callable")


_NAME = re.compile(r"^(poly|fourier)(\d+)$")


def make_basis(spec, x_sample: np.ndarray, *, period=None, extra_orders: int = 0) -> Basis:
    """Build a basis from ``spec`` for data like ``x_sample`` (``(N, d)``).

    ``spec``: ``"polyN"`` (monomials of total degree <= N of the standardised coordinates),
    ``"fourierK"`` (``cos``/``sin`` of ``2 pi k.x / period``, ``|k|_inf <= K``; needs
    ``period``), a callable ``f(X) -> (N, n_b)`` or a list of callables ``f(X) -> (N,)``.
    ``extra_orders`` raises the order of a nested basis beyond the requested one (for
    lack-of-fit checks); the requested order stays available as a leading block.
    """
    d = x_sample.shape[1]
    if isinstance(spec, str):
        m = _NAME.match(spec.strip().lower())
        if not m:
            raise ValidationError(
                f"unknown basis={spec!r}; valid choices are 'polyN' (e.g. 'poly3'), 'fourierK' "
                "(e.g. 'fourier2', with period=), 'auto', a callable or a list of callables"
            )
        kind, order = m.group(1), int(m.group(2))
        top = order + int(extra_orders)
        if kind == "poly":
            if order < 1:
                raise ValidationError(f"basis={spec!r}: the degree must be >= 1 (poly1 is linear)")
            while top > order and poly_size(d, top) > MAX_FUNCTIONS:
                top -= 1
            if poly_size(d, order) > MAX_FUNCTIONS:
                raise ValidationError(
                    f"basis={spec!r} has {poly_size(d, order)} functions in {d} dimensions "
                    f"(limit {MAX_FUNCTIONS}); use a lower degree or your own basis"
                )
            center = x_sample.mean(axis=0)
            scale = x_sample.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
            basis, _ = _poly_basis(d, top, center, scale)
            basis.center, basis.scale = center, scale
        else:
            if order < 1:
                raise ValidationError(f"basis={spec!r}: the order must be >= 1")
            if period is None:
                raise ValidationError(
                    f"basis={spec!r} needs period= (a number or one per coordinate), the period "
                    "of the periodic coordinates"
                )
            per = as_float_array("period", period, ndim=(0, 1))
            per = np.broadcast_to(per, (d,)).astype(np.float64)
            if np.any(per <= 0):
                raise ValidationError(f"period={short_repr(period)} must be positive")
            while top > order and (2 * top + 1) ** d > MAX_FUNCTIONS:
                top -= 1
            if (2 * order + 1) ** d > MAX_FUNCTIONS:
                raise ValidationError(
                    f"basis={spec!r} has {(2 * order + 1) ** d} functions in {d} dimensions "
                    f"(limit {MAX_FUNCTIONS}); use a lower order or your own basis"
                )
            basis = _fourier_basis(d, top, per)
        basis.order = order
        basis.name = f"{kind}{order}"
        return basis
    if callable(spec) or (isinstance(spec, Sequence) and not isinstance(spec, str | bytes)):
        return _callable_basis(spec, d)
    raise ValidationError(
        f"basis={short_repr(spec)} is not a basis; pass 'polyN', 'fourierK', 'auto', a callable "
        "f(X) -> (N, n_b) or a list of callables f(X) -> (N,)"
    )


def block_size(basis: Basis, order: int) -> int:
    """Number of leading functions that make up the sub-basis of ``order``."""
    for o, n in basis.orders:
        if o == order:
            return n
    raise ValidationError(f"order {order} is not available in basis {basis.name!r}")


__all__ += ["block_size", "MAX_FUNCTIONS"]
