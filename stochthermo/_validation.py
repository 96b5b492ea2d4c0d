"""Input validation shared by the public API.

Each helper names the argument, shows the offending value and says what to do instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import SupportsInt, cast

import numpy as np

from .errors import ShapeError, ValidationError

__all__ = [
    "short_repr",
    "as_float_array",
    "as_square_matrix",
    "as_vector",
    "check_finite",
    "check_callable",
    "check_symmetric",
    "check_psd",
    "positive_float",
    "nonnegative_float",
    "finite_float",
    "positive_int",
    "nonnegative_int",
    "choose_method",
    "normalize_blocks",
    "as_ensemble_array",
]


def short_repr(value, limit: int = 80) -> str:
    """A short ``repr`` of ``value`` for error messages."""
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=4, threshold=12, edgeitems=2):
            text = f"array(shape={value.shape}, dtype={value.dtype}, {np.array2string(value)})"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_finite(name: str, arr: np.ndarray) -> np.ndarray:
    """Raise if ``arr`` holds NaN or inf, saying where."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"{name}[{', '.join(map(str, idx))}]" if idx else name
        raise ValidationError(
            f"{name} contains a non-finite value, {where} = {float(arr[idx])!r} "
            f"({int(bad.sum())} of {arr.size} entries); all entries must be finite numbers: "
            "replace or drop the NaN/inf entries"
        )
    return arr


def _is_bool(value) -> bool:
    return isinstance(value, bool | np.bool_)


def _refuse_non_real(name: str, value, *, allow_bool: bool) -> None:
    """Raise for input that NumPy would silently turn into wrong real numbers.

    ``np.array(z, dtype=float)`` drops the imaginary part of a complex array (only a
    ``ComplexWarning``), parses strings (``"1"`` becomes 1.0) and turns ``None`` into NaN.
    """
    if _is_bool(value) or (isinstance(value, np.ndarray) and value.dtype == np.bool_
                           and not allow_bool):
        raise ValidationError(
            f"{name}={short_repr(value)} is a boolean; pass numbers (e.g. 1.0 or a float array)"
        )
    if isinstance(value, str | bytes):
        raise ValidationError(
            f"{name}={short_repr(value)} is a string; pass numbers, not text"
        )
    try:
        probe = np.asarray(value)
    except (TypeError, ValueError):
        return  # ragged or exotic input: the float conversion reports it
    kind = probe.dtype.kind
    if kind == "b" and not allow_bool and probe.ndim:
        raise ValidationError(
            f"{name}={short_repr(value)} is a boolean array; pass numbers (e.g. "
            "numpy.asarray(mask, dtype=float) if 0/1 is meant)"
        )
    if kind == "c":
        imag = float(np.max(np.abs(probe.imag), initial=0.0))
        raise ValidationError(
            f"{name}={short_repr(value)} is complex (largest |imaginary part| {imag:.3g}); "
            "this quantity must be real: pass the real part explicitly (numpy.real(...)) "
            "if the imaginary part is round-off"
        )
    if kind in "USV":
        raise ValidationError(
            f"{name}={short_repr(value)} holds text or raw bytes; pass numbers"
        )
    if kind == "O":
        for item in probe.ravel().tolist():
            if item is None or isinstance(item, str | bytes | complex | np.complexfloating):
                what = "None" if item is None else type(item).__name__
                raise ValidationError(
                    f"{name}={short_repr(value)} contains {what} ({item!r}); every entry must "
                    "be a real number"
                )
            if _is_bool(item) and not allow_bool:
                raise ValidationError(
                    f"{name}={short_repr(value)} contains a boolean; pass numbers"
                )


def check_callable(name: str, value, what: str = "a function"):
    """Raise unless ``value`` is callable; ``what`` describes the expected signature."""
    if not callable(value):
        raise ValidationError(
            f"{name}={short_repr(value)} is not callable; pass {what}"
        )
    return value


def as_float_array(name: str, value, *, ndim=None, finite: bool = True,
                   allow_bool: bool = True) -> np.ndarray:
    """Convert ``value`` to a C-contiguous float64 array, checking its rank and finiteness.

    Complex input, strings and ``None`` entries are refused (NumPy would drop the imaginary
    part, parse the text or produce NaN); a bare boolean is refused as a number, and boolean
    arrays too unless ``allow_bool``.
    """
    _refuse_non_real(name, value, allow_bool=allow_bool)
    try:
        arr = np.array(value, dtype=np.float64, order="C", copy=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(
            f"{name}={short_repr(value)} cannot be converted to a float array ({exc}); "
            "pass numbers in a list or NumPy array"
        ) from exc
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ShapeError(
                f"{name} must have {' or '.join(map(str, allowed))} dimension(s), got shape "
                f"{arr.shape} ({short_repr(value)})"
            )
    if finite:
        check_finite(name, arr)
    return arr


def as_square_matrix(name: str, value, *, dim: int | None = None) -> np.ndarray:
    """A finite float64 square matrix (scalars become 1x1), optionally of a given size.

    Booleans, complex numbers, text and empty (0x0) matrices are refused.
    """
    arr = as_float_array(name, value, ndim=(0, 1, 2), allow_bool=False)
    if arr.size == 0:
        raise ShapeError(
            f"{name} is empty (shape {arr.shape}); a model needs at least one dimension: "
            "pass a (d, d) matrix with d >= 1"
        )
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        if arr.size == 1:
            arr = arr.reshape(1, 1)
        else:
            raise ShapeError(
                f"{name} must be a square matrix, got a vector of shape {arr.shape}; "
                "use numpy.diag(...) for a diagonal matrix"
            )
    if arr.shape[0] != arr.shape[1]:
        raise ShapeError(
            f"{name} must be square, got shape {arr.shape}; pass a (d, d) matrix"
        )
    if dim is not None and arr.shape[0] != dim:
        raise ShapeError(
            f"{name} has shape {arr.shape} but the model has dimension {dim}; "
            f"pass a ({dim}, {dim}) matrix"
        )
    return arr


def as_vector(name: str, value, dim: int) -> np.ndarray:
    """A finite real float64 vector of length ``dim`` (a scalar is broadcast; no booleans)."""
    arr = as_float_array(name, value, ndim=(0, 1), allow_bool=False)
    if arr.ndim == 0:
        arr = np.full(dim, float(arr))
    if arr.shape != (dim,):
        raise ShapeError(
            f"{name} must have shape ({dim},), got {arr.shape} ({short_repr(value)}); pass one "
            f"number per dimension ({dim}) or a single scalar"
        )
    return arr


def check_symmetric(name: str, mat: np.ndarray, *, rtol: float = 1e-10) -> np.ndarray:
    """Raise unless ``mat`` is symmetric (to relative ``rtol``); return its symmetric part."""
    scale = max(np.abs(mat).max(initial=0.0), np.finfo(float).tiny)
    diff = np.abs(mat - mat.T)
    asym = diff.max(initial=0.0)
    if asym > rtol * scale:
        i, j = (int(k) for k in np.unravel_index(np.argmax(diff), diff.shape))
        raise ValidationError(
            f"{name} must be symmetric, but max|{name} - {name}^T| = {asym:.3g}: "
            f"{name}[{i}, {j}] = {mat[i, j]:.6g} and {name}[{j}, {i}] = {mat[j, i]:.6g} "
            f"({short_repr(mat)}); pass (M + M.T) / 2 if the asymmetry is round-off"
        )
    return 0.5 * (mat + mat.T)


def check_psd(name: str, mat: np.ndarray, *, rtol: float = 1e-10, strict: bool = False):
    """Raise unless the symmetric ``mat`` is positive semi-definite (definite if ``strict``)."""
    diag = np.diagonal(mat)
    with np.errstate(all="ignore"):
        if mat.ndim == 2 and np.count_nonzero(mat) == np.count_nonzero(diag):
            eig = diag.astype(float)  # diagonal: its eigenvalues, without an O(d^3) solve
        else:
            eig = np.linalg.eigvalsh(mat)
    if not np.all(np.isfinite(eig)):
        raise ValidationError(
            f"the eigenvalues of {name} overflow float64 ({short_repr(mat)}); rescale units "
            "so that its entries are well inside +-1e154"
        )
    scale = max(np.abs(eig).max(initial=0.0), np.finfo(float).tiny)
    lo = float(eig.min()) if eig.size else 0.0
    if strict and lo <= rtol * scale:
        raise ValidationError(
            f"{name} must be positive definite, but its smallest eigenvalue is {lo:.3g} "
            f"({short_repr(mat)}); every direction needs a positive stiffness"
        )
    if lo < -rtol * scale:
        raise ValidationError(
            f"{name} must be positive semi-definite, but it has the eigenvalue {lo:.3g} "
            f"({short_repr(mat)}); a diffusion or covariance matrix cannot have negative "
            "eigenvalues: pass a symmetric positive semi-definite matrix (any B @ B.T is one)"
        )
    return mat


def _real_scalar(name: str, value) -> float:
    if _is_bool(value):
        raise ValidationError(
            f"{name}={value!r} is a boolean, not a number; pass a float such as 1.0"
        )
    if not isinstance(value, numbers.Real):
        _refuse_non_real(name, value, allow_bool=False)
        try:
            arr = np.asarray(value, dtype=np.float64)
            if arr.size != 1:
                raise ValueError(f"expected one number, got shape {arr.shape}")
            value = float(arr.item())
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValidationError(
                f"{name}={short_repr(value)} must be a real number ({exc})"
            ) from exc
    try:
        value = float(value)
    except OverflowError as exc:
        raise ValidationError(f"{name}={short_repr(value)} is too large for a float") from exc
    if not np.isfinite(value):
        raise ValidationError(f"{name}={value!r} must be finite; pass a finite number")
    return value


def finite_float(name: str, value) -> float:
    """A finite real float (no booleans, complex numbers or text)."""
    return _real_scalar(name, value)


def positive_float(name: str, value) -> float:
    """A finite float > 0."""
    value = _real_scalar(name, value)
    if value <= 0:
        raise ValidationError(f"{name}={value!r} must be > 0")
    return value


def nonnegative_float(name: str, value) -> float:
    """A finite float >= 0."""
    value = _real_scalar(name, value)
    if value < 0:
        raise ValidationError(f"{name}={value!r} must be >= 0")
    return value


def _integer(name: str, value) -> int:
    if _is_bool(value):
        # bool is a subclass of int: True would silently count as 1
        raise ValidationError(
            f"{name}={value!r} is a boolean, not a count; pass an int such as 1"
        )
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            return int(cast(SupportsInt, value))  # the numbers.Real stub lacks __int__
        raise ValidationError(
            f"{name}={short_repr(value)} must be an integer; pass a whole number such as 10"
        )
    return int(value)


def positive_int(name: str, value) -> int:
    """An int >= 1."""
    value = _integer(name, value)
    if value < 1:
        raise ValidationError(f"{name}={value!r} must be an integer >= 1")
    return value


def nonnegative_int(name: str, value) -> int:
    """An int >= 0."""
    value = _integer(name, value)
    if value < 0:
        raise ValidationError(f"{name}={value!r} must be an integer >= 0")
    return value


def choose_method(name: str, value, table: Mapping):
    """Look ``value`` up in the dispatch ``table``; unknown names list the valid ones."""
    try:
        return table[value]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in table)
        raise ValidationError(f"unknown {name}={value!r}; valid choices are {valid}") from None


def normalize_blocks(blocks, dim: int, name: str = "blocks") -> tuple[tuple[int, ...], ...]:
    """Normalise a block specification to a tuple of index tuples that partition ``range(dim)``.

    ``blocks`` may be None (each coordinate its own block), a sequence of sizes
    (``[2, 1]`` -> ``((0, 1), (2,))``) or a sequence of index lists.
    """
    if blocks is None:
        return tuple((i,) for i in range(dim))
    if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Sequence | np.ndarray):
        raise ValidationError(
            f"{name}={short_repr(blocks)} must be a list of block sizes or of index lists"
        )
    items = list(blocks)
    if not items:
        raise ValidationError(f"{name}=[] is empty; give at least one block")
    flat_items = [x for b in items for x in (b if isinstance(b, Sequence | np.ndarray) else [b])]
    if any(_is_bool(x) for x in flat_items):
        raise ValidationError(
            f"{name}={short_repr(items)} contains a boolean; give block sizes or index lists "
            "as ints"
        )
    if all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in items):
        sizes = [int(b) for b in items]
        if any(s < 1 for s in sizes) or sum(sizes) != dim:
            raise ValidationError(
                f"{name}={items!r} read as block sizes must be positive and sum to the "
                f"dimension {dim}, but they sum to {sum(sizes)}"
            )
        out, start = [], 0
        for s in sizes:
            out.append(tuple(range(start, start + s)))
            start += s
        return tuple(out)
    out = []
    for b in items:
        if isinstance(b, numbers.Integral):
            b = [b]
        try:
            idx = tuple(int(i) for i in b)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{name}={short_repr(items)} must be a list of block sizes or of index lists"
            ) from None
        if not idx:
            raise ValidationError(f"{name}={items!r} contains an empty block")
        out.append(idx)
    flat = sorted(i for b in out for i in b)
    if flat != list(range(dim)):
        missing = sorted(set(range(dim)) - set(flat))
        dup = sorted({i for i in flat if flat.count(i) > 1})
        extra = sorted(i for i in set(flat) if i < 0 or i >= dim)
        raise ValidationError(
            f"{name}={items!r} is not a partition of the indices 0..{dim - 1}"
            f" (missing: {missing}, repeated: {dup}, out of range: {extra}); "
            "every coordinate must belong to exactly one block"
        )
    return tuple(out)


def as_ensemble_array(name: str, value, *, dim: int | None = None) -> np.ndarray:
    """A finite float64 C-contiguous array of shape ``(n_traj, n_time, dim)``.

    A 2-d input ``(n_traj, n_time)`` is read as ``dim = 1``.
    """
    arr = as_float_array(name, value, ndim=(2, 3))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if dim is not None and arr.shape[2] != dim:
        raise ShapeError(f"{name} has dimension {arr.shape[2]} (shape {arr.shape}), expected {dim}")
    return np.ascontiguousarray(arr)
