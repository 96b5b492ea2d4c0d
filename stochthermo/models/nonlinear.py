r"""Langevin models beyond the time-independent linear case.

- :class:`NonlinearLangevin`: a user drift ``f(x, t, out)`` compiled with Numba, constant
  diffusion ``D`` or a state-dependent diagonal ``D(x)`` (``diffusion=``, Ito or Stratonovich;
  such a model is a :class:`StateDependentLangevin`); optional potential for work.
- :class:`DrivenTrap`: a harmonic trap whose centre and/or stiffness follow a schedule
  (protocol), ``U(x, t) = s(t)/2 (x - c(t))^T K (x - c(t))``, bath temperature ``T``, mobility 1
  (``D = T I``). Work, heat and the first law are defined per trajectory.
- :func:`double_well` and :func:`dragged_trap`: ready-made instances.

Numba is imported only when a compiled function is needed, so importing this module is cheap.
Conventions: k_B = 1, Ito, ``dx = f(x, t) dt + sqrt(2 D) dW``; see ``theory/simulation.md``.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._frozen import settle
from .._validation import (
    as_float_array,
    as_square_matrix,
    as_vector,
    check_callable,
    check_psd,
    check_symmetric,
    finite_float,
    normalize_blocks,
    positive_float,
    positive_int,
    short_repr,
)
from ..errors import ValidationError
from .linear import _block_temperatures, _bounded, _check_magnitude, _summary

if TYPE_CHECKING:
    from .._typing import ArrayLike

__all__ = ["NonlinearLangevin", "StateDependentLangevin", "DrivenTrap", "double_well",
           "dragged_trap", "CONVENTIONS"]

#: Interpretations of the noise term of a state-dependent diffusion
CONVENTIONS = ("ito", "stratonovich")


def _n_args(func) -> int:
    py = getattr(func, "py_func", func)
    try:
        return len(inspect.signature(py).parameters)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return -1


def _as_jit(name: str, func):
    """Return ``func`` as a Numba dispatcher (compiling a plain Python function with njit)."""
    check_callable(name, func, "a function (a numba.njit function or a plain Python one)")
    if hasattr(func, "py_func"):
        return func
    from numba import njit

    return njit(func)


@functools.lru_cache(maxsize=64)
def _wrap_drift3(f):
    from numba import njit

    @njit
    def drift4(x, t, p, out):
        f(x, t, out)

    return drift4


@functools.lru_cache(maxsize=64)
def _wrap_potential2(u):
    from numba import njit

    @njit
    def pot3(x, t, p):
        return u(x, t)

    return pot3


@functools.lru_cache(maxsize=1)
def _builtin_functions():
    """Numba functions shipped with the library (compiled on first use, cached on disk)."""
    from numba import njit

    @njit(cache=True)
    def no_potential(x, t, p):
        return 0.0

    @njit(cache=True)
    def double_well_drift(x, t, p, out):
        # U = h sum (x_i^2 - 1)^2 - tilt sum x_i ; f = -grad U (mobility 1)
        for i in range(x.shape[0]):
            out[i] = -4.0 * p[0] * x[i] * (x[i] * x[i] - 1.0) + p[1]

    @njit(cache=True)
    def double_well_potential(x, t, p):
        u = 0.0
        for i in range(x.shape[0]):
            v = x[i] * x[i] - 1.0
            u += p[0] * v * v - p[1] * x[i]
        return u

    return {
        "no_potential": no_potential,
        "double_well_drift": double_well_drift,
        "double_well_potential": double_well_potential,
    }


@dataclass(frozen=True, eq=False)
class NonlinearLangevin:
    r"""Langevin process with a Numba-compiled drift and constant or state-dependent diffusion.

    .. math:: dx = f(x, t)\,dt + \sqrt{2D}\,dW \quad\text{(Ito)}

    or, with ``diffusion=g``, :math:`dx = f(x, t)\,dt + \sqrt{2D(x, t)}\,dW` with a diagonal
    :math:`D(x, t)` (Ito, or Stratonovich :math:`\circ\,dW` with ``convention="stratonovich"``).

    Parameters
    ----------
    drift : callable
        ``drift(x, t, out)`` writing :math:`f(x, t)` into ``out`` (shape ``(d,)``), or
        ``drift(x, t, params, out)`` when ``params`` is given. A ``numba.njit`` function; a
        plain Python function is compiled with ``njit``.
    D : array_like, shape (d, d), optional
        Constant diffusion matrix (symmetric PSD); a scalar means ``D * I`` with ``dim``.
        Leave it out when ``diffusion`` is given.
    dim : int, optional
        State dimension when ``D`` is a scalar or ``diffusion`` is given.
    params : array_like, optional
        Float parameters handed to a 4-argument drift (and 3-argument potential).
    potential : callable, optional
        ``potential(x, t)`` (or ``(x, t, params)``) returning the energy; needed for work.
        Work of a step is ``U(x', t') - U(x', t)`` (the protocol switches after the move).
    time_dependent : bool, optional
        Whether the drift (or the state-dependent diffusion) depends on ``t`` (the heat then
        needs one more evaluation of each per step).
    blocks, temperatures : optional
        Subsystems and their bath temperatures, as for :class:`~stochthermo.LinearLangevin`
        (default temperature: mean diagonal of ``D`` on the block; 1 with ``diffusion``).
    name : str, optional
        Label shown in the repr.
    diffusion : callable, optional
        ``diffusion(x, t, out)`` (or ``(x, t, params, out)``) writing the diagonal of the
        state-dependent diffusion matrix :math:`D_{ii}(x, t) \ge 0` into ``out`` (shape
        ``(d,)``); a Numba function or a plain Python one (compiled with ``njit``). The model
        is then a :class:`StateDependentLangevin`, simulated with ``method="euler"`` or
        ``"milstein"``.
    diffusion_derivative : callable, optional
        ``diffusion_derivative(x, t, out)`` (same arguments) writing
        :math:`\partial D_{ii} / \partial x_i`. Used by Milstein, the Stratonovich drift
        correction and the heat; without it these derivatives are computed numerically
        (a derivative-free Runge-Kutta support point for Milstein, central differences
        otherwise).
    convention : {'ito', 'stratonovich'}, optional
        How ``sqrt(2 D(x)) dW`` is read (default Ito). Stratonovich adds the noise-induced
        drift :math:`\tfrac12 \partial_i D_{ii}` to ``f``. Irrelevant for a constant ``D``.

    Notes
    -----
    ``theory/simulation.md`` [SIM-nonlinear]; with ``diffusion``, [SIM-multiplicative].
    Constant ``D``: only ``method="euler"`` and ``"heun"`` apply. An Euler run without
    observables compiles the drift's source once more, inline into a kernel that advances 16
    trajectories side by side (for ``d <= 7`` one kernel per dimension, with ``d`` fixed at
    compile time); that costs a few seconds once per drift and dimension in a process and
    changes no number. State-dependent ``D``:
    ``"euler"`` (strong order 1/2) and ``"milstein"`` (strong order 1 when each
    :math:`D_{ii}` depends on :math:`x_i` only, the diagonal-noise case). Heat into block i is
    :math:`T_i \int [D^{-1}(F - \nabla\cdot D)]_k \circ dx_k` with the Ito drift ``F``.

    Examples
    --------
    >>> import numpy as np, numba
    >>> from stochthermo.models.nonlinear import NonlinearLangevin
    >>> @numba.njit
    ... def f(x, t, out):
    ...     out[0] = -x[0] ** 3
    >>> NonlinearLangevin(f, 0.5, dim=1).dim
    1
    >>> @numba.njit
    ... def g(x, t, out):
    ...     out[0] = 1.0 + x[0] ** 2
    >>> type(NonlinearLangevin(f, diffusion=g, dim=1)).__name__
    'StateDependentLangevin'
    """

    drift: Any
    D: Any = None
    dim: int | None = None
    params: Any = None
    potential: Any = None
    time_dependent: bool = False
    blocks: Any = None
    temperatures: Any = None
    name: str = "NonlinearLangevin"
    diffusion: Any = None
    diffusion_derivative: Any = None
    convention: str = "ito"
    # the compiled functions the kernels call (set in __post_init__; None where absent)
    _kernel_drift: Any = field(init=False, repr=False, default=None)
    _kernel_potential: Any = field(init=False, repr=False, default=None)
    _kernel_diffusion: Any = field(init=False, repr=False, default=None)
    _kernel_derivative: Any = field(init=False, repr=False, default=None)

    def __new__(cls, *args, **kwargs):
        """A :class:`StateDependentLangevin` when ``diffusion`` is given (its own plan)."""
        given = kwargs.get("diffusion", args[9] if len(args) > 9 else None)
        if cls is NonlinearLangevin and given is not None:
            cls = StateDependentLangevin
        return super().__new__(cls)

    def __post_init__(self):
        check_callable("drift", self.drift,
                       "a function drift(x, t, out) or drift(x, t, params, out)")
        if not isinstance(self.convention, str) or self.convention not in CONVENTIONS:
            raise ValidationError(
                f"unknown convention={short_repr(self.convention)}; valid choices are "
                f"{', '.join(map(repr, CONVENTIONS))}"
            )
        if self.diffusion is not None or self.diffusion_derivative is not None:
            self._init_state_dependent()
            return
        D = self._constant_diffusion()
        d = D.shape[0]
        params = self._checked_params()
        nargs = _n_args(self.drift)
        if nargs not in (3, 4):
            raise ValidationError(
                f"drift must take (x, t, out) or (x, t, params, out), but it takes {nargs} "
                "arguments"
            )
        drift = _as_jit("drift", self.drift)
        kernel_drift = _wrap_drift3(drift) if nargs == 3 else drift
        pot, kernel_pot = self._compiled_potential()
        blocks = normalize_blocks(self.blocks, d)
        temps = _block_temperatures(self.temperatures, blocks, np.diag(D))
        D.setflags(write=False)
        params.setflags(write=False)
        settle(self, D=D, dim=d, params=params, drift=drift, potential=pot, blocks=blocks,
               temperatures=temps, time_dependent=bool(self.time_dependent),
               _kernel_drift=kernel_drift, _kernel_potential=kernel_pot)

    def _checked_params(self) -> np.ndarray:
        """``params`` as a flat float64 copy, after checking ``time_dependent`` and ``name``."""
        params = np.zeros(0) if self.params is None else np.atleast_1d(
            as_float_array("params", self.params, allow_bool=False)).ravel().copy()
        if not isinstance(self.time_dependent, bool | np.bool_):
            raise ValidationError(
                f"time_dependent={short_repr(self.time_dependent)} must be True or False"
            )
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(f"name={short_repr(self.name)} must be a non-empty string")
        return params

    def _constant_diffusion(self):
        """The constant diffusion matrix ``D`` from ``D=`` (and ``dim=`` for a scalar)."""
        if self.D is None:
            raise ValidationError(
                "give D= (a constant diffusion number or matrix) or diffusion=g(x, t, out) "
                "(a state-dependent diagonal D(x)); neither was given"
            )
        if callable(self.D):
            raise ValidationError(
                f"D={short_repr(self.D)} is a function; D must be a constant number or "
                "matrix. For state-dependent noise pass diffusion=g(x, t, out) writing the "
                "diagonal of D(x), and leave D out"
            )
        dim = None if self.dim is None else positive_int("dim", self.dim)
        D = as_float_array("D", self.D, ndim=(0, 1, 2), allow_bool=False)
        if D.ndim == 0:
            if dim is None:
                raise ValidationError(
                    f"D={float(D)!r} is a scalar, so dim= must be given (the state size), "
                    "e.g. dim=1"
                )
            if dim > 10_000:
                raise ValidationError(
                    f"dim={dim} would need a dense {dim} x {dim} matrix; at most 10000 coordinates "
                    "with a constant D (for more, pass diffusion=g(x, t, out) writing the "
                    "diagonal of D)"
                )
            D = float(D) * np.eye(dim)
        D = _check_magnitude("D", as_square_matrix("D", D, dim=dim))
        D = check_symmetric("D", D)
        check_psd("D", D)
        return D

    def _compiled_potential(self):
        """``(potential, kernel potential)`` compiled, or ``(None, None)`` without one."""
        pot = None
        if self.potential is not None:
            pot = _as_jit("potential", self.potential)
            pa = _n_args(self.potential)
            if pa not in (2, 3):
                raise ValidationError(
                    f"potential must take (x, t) or (x, t, params), but it takes {pa} arguments"
                )
            kernel_pot = _wrap_potential2(pot) if pa == 2 else pot
        else:
            kernel_pot = None
        return pot, kernel_pot

    def _init_state_dependent(self):
        """Validation of a model with ``diffusion=`` (a :class:`StateDependentLangevin`)."""
        if self.diffusion is None:
            raise ValidationError(
                f"diffusion_derivative={short_repr(self.diffusion_derivative)} was given "
                "without diffusion=; pass diffusion=g(x, t, out) too"
            )
        if not isinstance(self, StateDependentLangevin):
            raise ValidationError("diffusion= needs a StateDependentLangevin")
        if self.D is not None:
            raise ValidationError(
                f"D={short_repr(self.D)} and diffusion= were both given; a state-dependent "
                "model takes its diffusion from diffusion=g(x, t, out) only, so leave D out"
            )
        if self.dim is None:
            raise ValidationError(
                "diffusion= was given, so dim= must be given too (the state size), e.g. dim=1"
            )
        d = positive_int("dim", self.dim)
        if d > 100_000:
            raise ValidationError(f"dim={d} is too large (at most 100000 coordinates)")
        fn_kind = "a function {}(x, t, out) or {}(x, t, params, out)"
        funcs = {}
        for name in ("drift", "diffusion", "diffusion_derivative"):
            func = getattr(self, name)
            if func is None:
                funcs[name] = (None, None)
                continue
            check_callable(name, func, fn_kind.format(name, name))
            nargs = _n_args(func)
            if nargs not in (3, 4):
                raise ValidationError(
                    f"{name} must take (x, t, out) or (x, t, params, out), but it takes "
                    f"{nargs} arguments"
                )
            jit = _as_jit(name, func)
            funcs[name] = (jit, _wrap_drift3(jit) if nargs == 3 else jit)
        params = self._checked_params()
        pot, kernel_pot = self._compiled_potential()
        blocks = normalize_blocks(self.blocks, d)
        temps = _block_temperatures(self.temperatures, blocks, np.ones(d))  # default T = 1
        params.setflags(write=False)
        temps.setflags(write=False)
        settle(self, dim=d, params=params, drift=funcs["drift"][0],
               diffusion=funcs["diffusion"][0],
               diffusion_derivative=funcs["diffusion_derivative"][0], potential=pot,
               blocks=blocks, temperatures=temps, time_dependent=bool(self.time_dependent),
               _kernel_drift=funcs["drift"][1], _kernel_diffusion=funcs["diffusion"][1],
               _kernel_derivative=funcs["diffusion_derivative"][1],
               _kernel_potential=kernel_pot)

    @property
    def state_dependent(self) -> bool:
        """Whether the diffusion depends on the state (``diffusion=`` was given)."""
        return self.diffusion is not None

    @property
    def n_blocks(self) -> int:
        """Number of subsystems."""
        return len(self.blocks)

    def diffusion_at(self, x: ArrayLike, t: float = 0.0) -> np.ndarray:
        """Diagonal of ``D`` at states ``x`` of shape ``(d,)`` or ``(n, d)`` (slow; for checks)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if not self.state_dependent:
            return np.broadcast_to(np.diag(self.D), x.shape).copy()
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            self._kernel_diffusion(np.ascontiguousarray(x[i]), float(t), self.params, out[i])
        return out

    def drift_at(self, x: ArrayLike, t: float = 0.0) -> np.ndarray:
        """Evaluate the drift at states ``x`` of shape ``(d,)`` or ``(n, d)`` (slow; for checks)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            self._kernel_drift(np.ascontiguousarray(x[i]), float(t), self.params, out[i])
        return out

    def __repr__(self) -> str:
        parts = [f"d={self.dim}", f"drift={_func_name(self.drift)}"]
        if self.state_dependent:
            parts.append(f"diffusion={_func_name(self.diffusion)}")
            if self.convention != "ito":
                parts.append(f"convention={self.convention!r}")
        else:
            parts.append(_summary("D", self.D))
        if self.params.size:
            parts.append(_summary("params", self.params, small=6))
        if self.potential is not None:
            parts.append(f"potential={_func_name(self.potential)}")
        if self.time_dependent:
            parts.append("time_dependent=True")
        return _bounded(f"{self.name[:40]}({', '.join(parts)})")


class StateDependentLangevin(NonlinearLangevin):
    r"""A :class:`NonlinearLangevin` with a state-dependent diagonal diffusion ``D(x, t)``.

    .. math:: dx_i = f_i(x, t)\,dt + \sqrt{2 D_{ii}(x, t)}\,dW_i

    (Ito, or Stratonovich with ``convention="stratonovich"``). Built by
    ``NonlinearLangevin(drift, diffusion=g, dim=d)``; same parameters. ``D`` is None.
    ``simulate`` runs it with ``method="euler"`` (strong order 1/2, weak 1) or
    ``"milstein"`` (strong order 1 for diagonal noise, weak 1); heat and medium entropy use
    the force :math:`T_i D^{-1}(F - \nabla\cdot D)` of the Ito drift ``F``
    (``theory/simulation.md`` [SIM-multiplicative]).
    """

    def __post_init__(self):
        if self.diffusion is None:
            raise ValidationError(
                "StateDependentLangevin needs diffusion=g(x, t, out) writing the diagonal of "
                "D(x); for a constant D use NonlinearLangevin(drift, D)"
            )
        super().__post_init__()


def _func_name(func) -> str:
    """The (shortened) name of a function, for reprs."""
    py = getattr(func, "py_func", func)
    name = getattr(py, "__name__", None) or type(py).__name__
    return name if len(name) <= 40 else name[:37] + "..."


def double_well(barrier: float = 1.0, temperature: float = 1.0, *, dim: int = 1,
                tilt: float = 0.0) -> NonlinearLangevin:
    r"""Double well :math:`U = h \sum_i (x_i^2 - 1)^2 - \epsilon \sum_i x_i`, ``D = T I``.

    Parameters
    ----------
    barrier : float
        Barrier height ``h`` (at ``x = 0``, relative to the minima at ``x = +-1`` when untilted).
    temperature : float
        Bath temperature ``T`` (mobility 1, so ``D = T I``).
    dim : int
        Number of independent coordinates.
    tilt : float
        Linear tilt ``epsilon``.

    Returns
    -------
    NonlinearLangevin
        Drift :math:`f = -\nabla U`; the potential is attached (time-independent, so work is 0).
    """
    h = positive_float("barrier", barrier)
    T = positive_float("temperature", temperature)
    d = positive_int("dim", dim)
    if d > 10_000:
        raise ValidationError(f"dim={d} would need a dense {d} x {d} diffusion matrix; at most "
                              "10000 coordinates")
    eps = finite_float("tilt", tilt)
    fns = _builtin_functions()
    return NonlinearLangevin(
        fns["double_well_drift"], T * np.eye(d), params=[h, eps],
        potential=fns["double_well_potential"], name="DoubleWell",
    )


def _eval_schedule(name: str, func, times: np.ndarray, shape) -> np.ndarray:
    out = np.empty((times.size, *shape))
    for i, t in enumerate(times):
        raw = func(float(t))
        v = as_float_array(f"{name}(t={float(t)!r})", raw, finite=False, allow_bool=False)
        try:
            out[i] = np.broadcast_to(v, shape)
        except ValueError as exc:
            raise ValidationError(
                f"{name}(t={float(t)!r}) returned {short_repr(raw)}, which cannot be read as "
                f"an array of shape {shape}: {exc}"
            ) from exc
    if not np.all(np.isfinite(out)):
        bad = int(np.argwhere(~np.isfinite(out.reshape(times.size, -1)))[0, 0])
        raise ValidationError(f"{name}(t={times[bad]!r}) is not finite")
    return out


@dataclass(frozen=True, eq=False)
class DrivenTrap:
    r"""Harmonic trap moved by a protocol: centre ``c(t)`` and stiffness scale ``s(t)``.

    .. math::
        U(x, t) = \tfrac{s(t)}{2} (x - c(t))^\top K (x - c(t)),\qquad
        dx = -s(t) K (x - c(t))\,dt + \sqrt{2T}\,dW.

    Parameters
    ----------
    stiffness : array_like, shape (d, d) or float
        Stiffness matrix ``K`` (symmetric positive definite).
    temperature : float
        Bath temperature ``T`` (mobility 1, ``D = T I``).
    centre : None, array_like (d,), or callable
        Trap centre: fixed (default 0) or a function ``t -> c(t)``.
    stiffness_scale : None or callable
        ``t -> s(t) > 0`` (default 1).

    Notes
    -----
    Per step the process moves at fixed protocol value ``lambda_n``, then the protocol switches
    to ``lambda_{n+1}``: work ``w_n = U(x_{n+1}, t_{n+1}) - U(x_{n+1}, t_n)``, heat into the bath
    ``q_n = -[U(x_{n+1}, t_n) - U(x_n, t_n)]`` (the Stratonovich integral of the force, exact for
    a quadratic ``U``), so ``U_N - U_0 = W - Q`` holds per trajectory. With ``method="exact"``
    each step is the exact OU transition of the frozen trap, which keeps ``exp(-U/T)`` invariant,
    so Jarzynski's equality holds at any ``dt``. ``theory/simulation.md`` [SIM-protocol].
    """

    stiffness: Any
    temperature: float = 1.0
    centre: Any = None
    stiffness_scale: Any = None

    def __post_init__(self):
        K = _check_magnitude("stiffness", as_square_matrix("stiffness", self.stiffness))
        K = check_symmetric("stiffness", K)
        check_psd("stiffness", K, strict=True)
        d = K.shape[0]
        T = positive_float("temperature", self.temperature)
        centre = self.centre
        if centre is None:
            centre = np.zeros(d)
        if callable(centre):
            # evaluate once now, so that a schedule returning the wrong shape, complex or
            # non-finite values is refused at construction rather than inside a simulation
            _eval_schedule("centre", centre, np.zeros(1), (d,))
        else:
            centre = as_vector("centre", centre, d)
            centre.setflags(write=False)
        scale = self.stiffness_scale
        if scale is not None and not callable(scale):
            raise ValidationError(
                f"stiffness_scale={short_repr(scale)} must be a function t -> s(t) > 0 or None; "
                "for a constant stiffness change the stiffness matrix instead"
            )
        if scale is not None:
            s0 = float(_eval_schedule("stiffness_scale", scale, np.zeros(1), ())[0])
            if s0 <= 0:
                raise ValidationError(
                    f"stiffness_scale(t=0.0) = {s0!r} must be > 0 (a trap, not a barrier)"
                )
        K.setflags(write=False)
        settle(self, stiffness=K, temperature=T, centre=centre)

    @property
    def dim(self) -> int:
        """State dimension."""
        return self.stiffness.shape[0]

    @property
    def D(self) -> np.ndarray:
        """Diffusion matrix ``T I``."""
        return self.temperature * np.eye(self.dim)

    @property
    def blocks(self) -> tuple:
        """One subsystem: the whole particle."""
        return (tuple(range(self.dim)),)

    @property
    def temperatures(self) -> np.ndarray:
        """``[T]``."""
        return np.array([self.temperature])

    @property
    def n_blocks(self) -> int:
        """1."""
        return 1

    @property
    def moving_centre(self) -> bool:
        """Whether the centre follows a schedule."""
        return callable(self.centre)

    @property
    def moving_stiffness(self) -> bool:
        """Whether the stiffness follows a schedule."""
        return self.stiffness_scale is not None

    def centre_at(self, t: ArrayLike) -> np.ndarray:
        """Centres at times ``t`` (array of shape ``(n,)``), shape ``(n, d)``."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if not self.moving_centre:
            return np.broadcast_to(self.centre, (t.size, self.dim)).copy()
        return _eval_schedule("centre", self.centre, t, (self.dim,))

    def scale_at(self, t: ArrayLike) -> np.ndarray:
        """Stiffness scales at times ``t``, shape ``(n,)``."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if not self.moving_stiffness:
            return np.ones(t.size)
        s = _eval_schedule("stiffness_scale", self.stiffness_scale, t, ())
        if np.any(s <= 0):
            bad = int(np.argmax(s <= 0))
            raise ValidationError(
                f"stiffness_scale(t={t[bad]!r}) = {s[bad]!r} must be > 0 (a trap, not a barrier)"
            )
        return s

    def potential(self, x: ArrayLike, t: float) -> np.ndarray:
        """Energy ``U(x, t)`` for states ``x`` of shape ``(..., d)`` at scalar time ``t``."""
        x = np.asarray(x, dtype=np.float64)
        c = self.centre_at([t])[0]
        s = self.scale_at([t])[0]
        y = x - c
        return 0.5 * s * np.einsum("...i,ij,...j->...", y, self.stiffness, y)

    def __repr__(self) -> str:
        centre = (f"centre={_func_name(self.centre)}" if self.moving_centre
                  else _summary("centre", self.centre, small=4))
        parts = [f"d={self.dim}", _summary("K", self.stiffness), f"T={self.temperature!r}",
                 centre]
        if self.moving_stiffness:
            parts.append(f"stiffness_scale={_func_name(self.stiffness_scale)}")
        return _bounded(f"DrivenTrap({', '.join(parts)})")


def dragged_trap(stiffness: float = 1.0, velocity: float = 1.0, temperature: float = 1.0, *,
                 start: ArrayLike = 0.0, dim: int | None = None) -> DrivenTrap:
    r"""Trap dragged at constant velocity: ``c(t) = start + velocity t``.

    Parameters
    ----------
    stiffness : float or array_like (d, d)
    velocity : float or array_like (d,)
    temperature : float
    start : float or array_like (d,)
    dim : int, optional
        Dimension when ``stiffness`` is a scalar (default 1).

    Notes
    -----
    The free energy does not change (a translated trap), so Jarzynski's equality reads
    :math:`\langle e^{-W/T}\rangle = 1`; in the steady state the mean work rate is
    :math:`\gamma v^2` with mobility 1 (:math:`\gamma = 1`).
    """
    d_given = None if dim is None else positive_int("dim", dim)
    if d_given is not None and d_given > 10_000:
        raise ValidationError(f"dim={d_given} would need a dense {d_given} x {d_given} "
                              "stiffness matrix; at most 10000 coordinates")
    K = as_float_array("stiffness", stiffness, ndim=(0, 2), allow_bool=False)
    if K.ndim == 0:
        K = float(K) * np.eye(1 if d_given is None else d_given)
    K = as_square_matrix("stiffness", K, dim=d_given)
    d = K.shape[0]
    v = as_vector("velocity", velocity, d)
    c0 = as_vector("start", start, d)

    def centre(t, c0=c0, v=v):
        return c0 + v * t

    return DrivenTrap(K, temperature, centre=centre)
