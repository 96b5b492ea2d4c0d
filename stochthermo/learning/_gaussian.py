"""The linear-Gaussian lagged learner: exact closed forms and simulation, in any dimension.

Data ``b_i ~ N(mu, S_d)``, model ``p(x | theta) = N(theta, S)``, Gaussian-noise SGD
``theta_{t+1} = theta_t - r_t S^-1 (theta_t - Bbar - xi_t)``, ``xi_t ~ N(0, S_d / m)``,
``theta_0 ~ N(mu_0, V_0)``, ``X_{t+1} ~ N(theta_t, S)``. The one-dimensional learner with a
constant rate and i.i.d. batches uses the SymPy closed forms of
:mod:`stochthermo.symbolic.learner`; every other case (vector, learning-rate schedule,
epoch reshuffling) propagates the joint covariance exactly in NumPy. Derivations:
``theory/learning.md`` sections 4 and 7-9.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from .._frozen import settle
from .._rng import as_seed_sequence, seed_repr, trajectory_seeds
from .._validation import (
    as_float_array,
    as_square_matrix,
    check_psd,
    check_symmetric,
    choose_method,
    nonnegative_float,
    positive_float,
    positive_int,
    short_repr,
)
from ..errors import InsufficientDataError, ShapeError, ValidationError
from ..estimators._stats import gaussian_mi as _gaussian_mi
from ..estimators._stats import wishart_logdet_bias
from ..results import Estimate
from ._engine import LearningEnsemble, learn
from ._info import jackknife
from ._ppm import GaussianMean

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .._typing import ArrayLike, SeedLike

__all__ = ["GaussianLearner", "CLOSED_FORM_KEYS", "RESERVOIR_KEYS", "DEPRECATED_KEYS",
           "gaussian_learner_estimates", "step_decay", "cosine_schedule"]

#: keys of :meth:`GaussianLearner.closed_form` (the issue's contract), then extras
CLOSED_FORM_KEYS = (
    "m_info", "l_info", "i_x_theta", "work", "heat", "info_flow_x", "info_flow_theta",
    "sigma_x", "entropy_theta", "entropy_theta_given_b",
)
EXTRA_KEYS = ("sigma_x_kl", "l_info_functional", "info_flow_x_accumulated", "heat_theta", "kl",
              "mean_theta", "var_theta", "var_theta_given_b", "sq_dev_bbar",
              "generalization_gap")
#: the parameter reservoir's second law (``theory/learning.md`` section 7), given B
RESERVOIR_KEYS = ("medium_entropy_theta", "info_flow_theta_given_b", "sigma_theta",
                  "sigma_x_given_b", "sigma_total", "entropy_production_theta",
                  "efficiency", "efficiency_m")
#: old key -> new key; reading the old one warns (``DeprecationWarning``)
DEPRECATED_KEYS = {"l_info_flow": "info_flow_x_accumulated"}

#: bound on (steps x d^2) propagated by one closed_form call, and the batch of steps
_MAX_STEP_VALUES = 2_000_000
_CHUNK = 4096

_SAMPLING = {
    "iid": "independent batches: xi_t ~ N(0, S_d / m), uncorrelated across steps",
    "reshuffle": "epoch reshuffling: batches of one epoch drawn without replacement from the "
                 "N points (anticorrelated batch means)",
}


class _Keys(dict):
    """A dict of results in which a deprecated key still reads (with a warning)."""

    def __missing__(self, key):
        new = DEPRECATED_KEYS.get(key)
        if new is None or new not in self:
            raise KeyError(key)
        warnings.warn(f"the key {key!r} is deprecated: it is the accumulated information flow "
                      f"into X, not information about B; use {new!r}",
                      DeprecationWarning, stacklevel=2)
        return self[new]


def step_decay(lr0: float, *, factor: float = 0.5, every: int = 10) -> Callable[[int], float]:
    """Step-decay schedule ``r_t = lr0 * factor ** (t // every)``.

    Examples
    --------
    >>> f = step_decay(0.2, factor=0.5, every=10)
    >>> f(0), f(10), f(25)
    (0.2, 0.1, 0.05)
    """
    lr0 = positive_float("lr0", lr0)
    factor = positive_float("factor", factor)
    every = positive_int("every", every)
    return _Schedule("step_decay", lambda t: lr0 * factor ** (t // every),
                     (lr0, factor, every))


def cosine_schedule(lr0: float, n_steps: int, *, lr_min: float = 0.0) -> Callable[[int], float]:
    """Cosine schedule ``r_t = lr_min + (lr0 - lr_min) (1 + cos(pi t / n_steps)) / 2``.

    Steps beyond ``n_steps`` keep ``lr_min`` (which must then be > 0 to be used).
    """
    lr0 = positive_float("lr0", lr0)
    n_steps = positive_int("n_steps", n_steps)
    lr_min = nonnegative_float("lr_min", lr_min)

    def f(t):
        u = min(t, n_steps) / n_steps
        return lr_min + (lr0 - lr_min) * 0.5 * (1.0 + math.cos(math.pi * u))

    return _Schedule("cosine", f, (lr0, n_steps, lr_min))


@dataclass(frozen=True)
class _Schedule:
    """A named, hashable learning-rate schedule ``step -> lr``."""

    name: str
    fn: Callable
    args: tuple

    def __call__(self, t):
        return self.fn(int(t))

    def __hash__(self):
        return hash((self.name, self.args))

    def __eq__(self, other):
        return isinstance(other, _Schedule) and (self.name, self.args) == (other.name,
                                                                            other.args)


@functools.lru_cache(maxsize=1)
def _symbolic_batch():
    """Every SymPy closed form in one NumPy function with shared subexpressions.

    One ``lambdify(..., cse=True)`` over all expressions evaluates ``(1 - k)^t`` and the other
    common pieces once per step instead of once per key (a million steps: ~4x faster than
    one function per key; same values to round-off).
    """
    import sympy as sp

    from ..symbolic.learner import LEARNER_ARGS, derive_gaussian_learner

    exprs = derive_gaussian_learner()[0]
    names = tuple(exprs)
    by_name = {str(x): x for e in exprs.values() for x in e.free_symbols}
    syms = tuple(by_name.get(n, sp.Symbol(n)) for n in LEARNER_ARGS)
    fn = sp.lambdify(syms, [exprs[n] for n in names], modules="numpy", cse=True)
    return names, fn


def _symbolic_eval(tf, args, names=None) -> dict:
    """The SymPy closed forms at steps ``tf`` (float array): ``name -> array``."""
    if names is not None and len(names) <= 3:  # a few keys: their own compiled functions
        from ..symbolic.learner import derive_gaussian_learner

        funcs = derive_gaussian_learner()[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return {n: np.asarray(funcs[n](tf, *args) + 0.0 * tf) for n in names}
    all_names, fn = _symbolic_batch()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vals = fn(tf, *args)
        return {n: np.asarray(v + 0.0 * tf) for n, v in zip(all_names, vals)}


def _tuple_vec(v):
    return tuple(float(x) for x in v)


def _tuple_mat(m):
    return tuple(tuple(float(x) for x in row) for row in m)


def _pd_inverse(name, mat):
    check_psd(name, mat, strict=True)
    return np.linalg.inv(mat)


@dataclass(frozen=True)
class GaussianLearner:
    r"""The exactly solvable lagged learner of ``theory/learning.md`` (theory.md section 5).

    Parameters
    ----------
    mu : float or array (d,)
        Mean of the target ``N(mu, S_d)`` of the training data; a vector makes a
        d-dimensional learner.
    data_std : float
        ``S_d = data_std^2 I`` unless ``data_cov`` is given.
    n_data : int
        Training-set size N.
    batch_size : int
        Mini-batch size m.
    model_std : float
        ``S = model_std^2 I`` unless ``model_cov`` is given (model ``p(x | theta) = N(theta, S)``).
    lr : float
        Learning rate r; the gain ``K = r S^-1`` must have eigenvalues in (0, 2).
    init_mean : float or array (d,)
        ``E theta_0``.
    init_var : float
        ``Var theta_0 = init_var I`` unless ``init_cov`` is given.
    data_cov, model_cov, init_cov : array (d, d), optional
        Covariances of the data (positive definite), of the model (positive definite) and of
        the initial parameters (positive semi-definite). Any of them makes the learner a
        vector learner, with its closed forms from exact covariance propagation.
    sampling : {"iid", "reshuffle"}
        ``"iid"``: the noise ``xi_t ~ N(0, S_d / m)`` is independent across steps (today's
        model); ``"reshuffle"``: the batches of one epoch (``N // m`` steps, a new
        permutation each epoch) are disjoint, so the batch-mean noise has
        ``Cov xi_t = S_d (N - m) / (N m)`` and ``Cov(xi_s, xi_t) = -S_d / N`` within an epoch.
    lr_schedule : callable or array, optional
        Learning rate of step t: ``lr_schedule(t)`` or ``lr_schedule[t]`` (then ``lr`` is
        not used). See :func:`step_decay` and :func:`cosine_schedule`.

    Notes
    -----
    One dimension, constant rate: with ``a = 1 - k``, ``c_t = 1 - a^t``,
    ``g_t = (1 - a^{2t}) / (1 - a^2)``:
    ``V_t = a^{2t} v_0 + k^2 s_d^2 g_t / m``, ``Var Theta_t = V_t + c_t^2 s_d^2 / N``,
    ``I_M = 1/2 ln(1 + c_t^2 s_d^2 / (N V_t))``,
    ``I_L = 1/2 ln(1 + c_t^2 s_d^2 / (N (V_t + s^2)))``.
    In general ``M_{t+1} = A M_t + K mu``, ``E_{t+1} = A E_t + K S_d / N`` (``E_t =
    Cov(Theta_t, Bbar)``), ``W_{t+1} = A W_t A^T + K (S_d/N + D) K^T + A (E_t + G_t O) K^T +
    K (E_t + G_t O)^T A^T`` with ``A = I - K_t``, ``D = Cov xi``, ``O`` the within-epoch
    cross-covariance and ``G_t`` the gain accumulated since the epoch began
    (``theory/learning.md`` section 8). Every quantity follows from the Gaussian joint law of
    ``(Bbar, Theta_t, X_{t+1}, Theta_{t+1}, X_{t+2})``.

    Examples
    --------
    >>> g = GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, model_std=1.0,
    ...                     lr=0.1, init_mean=0.0, init_var=1.0)
    >>> cf = g.closed_form([1, 10])
    >>> bool(np.all(cf["l_info"] <= cf["m_info"]))
    True
    >>> v = GaussianLearner(mu=[1.0, 0.0], data_cov=[[1.0, 0.3], [0.3, 0.5]], n_data=10,
    ...                     batch_size=2, model_cov=[[1.0, 0.0], [0.0, 2.0]], lr=0.2)
    >>> round(v.closed_form(5)["m_info"], 6) > 0
    True
    """

    mu: float = 0.0
    data_std: float = 1.0
    n_data: int = 10
    batch_size: int = 1
    model_std: float = 1.0
    lr: float = 0.1
    init_mean: float = 0.0
    init_var: float = 1.0
    data_cov: tuple | None = None
    model_cov: tuple | None = None
    init_cov: tuple | None = None
    sampling: str = "iid"
    lr_schedule: object = None

    def __post_init__(self) -> None:
        settle(self, data_std=positive_float("data_std", self.data_std),
               n_data=positive_int("n_data", self.n_data),
               batch_size=positive_int("batch_size", self.batch_size),
               model_std=positive_float("model_std", self.model_std),
               lr=positive_float("lr", self.lr),
               init_var=nonnegative_float("init_var", self.init_var))
        choose_method("sampling", self.sampling, _SAMPLING)
        if self.sampling == "reshuffle" and self.batch_size > self.n_data:
            raise ValidationError(
                f"sampling='reshuffle' needs batch_size <= n_data, got batch_size="
                f"{self.batch_size} and n_data={self.n_data}"
            )
        mu_arr = as_float_array("mu", self.mu, ndim=(0, 1))
        vector = mu_arr.ndim == 1 or any(
            x is not None for x in (self.data_cov, self.model_cov, self.init_cov))
        if not vector:
            settle(self, mu=float(mu_arr),
                   init_mean=float(as_float_array("init_mean", self.init_mean, ndim=0)))
        else:
            d = self._infer_dim(mu_arr)
            if d > 1000:  # the covariances are stored as nested tuples (d^2 Python floats)
                raise ValidationError(
                    f"the learner has dimension {d} (from mu or the covariances); at most "
                    "1000 are supported: project the data onto fewer coordinates"
                )
            mu_v = np.full(d, float(mu_arr)) if mu_arr.ndim == 0 else mu_arr
            if mu_v.shape != (d,):
                raise ShapeError(f"mu has shape {mu_v.shape} but the covariances are {d} x {d}")
            im = as_float_array("init_mean", self.init_mean, ndim=(0, 1))
            im = np.full(d, float(im)) if im.ndim == 0 else im
            if im.shape != (d,):
                raise ShapeError(f"init_mean must have shape ({d},), got {im.shape}")
            covs = {}
            for name, default in (("data_cov", self.data_std**2), ("model_cov",
                                                                    self.model_std**2),
                                  ("init_cov", self.init_var)):
                val = getattr(self, name)
                mat = default * np.eye(d) if val is None else as_square_matrix(name, val, dim=d)
                mat = check_symmetric(name, mat)
                check_psd(name, mat, strict=name != "init_cov")
                covs[name] = mat
            settle(self, mu=_tuple_vec(mu_v), init_mean=_tuple_vec(im),
                   **{name: _tuple_mat(mat) for name, mat in covs.items()})
        sched = self.lr_schedule
        if sched is not None and not callable(sched):
            arr = as_float_array("lr_schedule", sched, ndim=1)
            if arr.size == 0 or np.any(arr <= 0):
                raise ValidationError(
                    f"lr_schedule={short_repr(sched)} must be a callable step -> lr or a "
                    "non-empty array of positive learning rates"
                )
            settle(self, lr_schedule=_tuple_vec(arr))
        lam = 1.0 / float(np.linalg.eigvalsh(self.model_cov_matrix).min())
        if self.lr_schedule is None and not self.lr * lam < 2:
            if not vector:
                raise ValidationError(
                    f"lr={self.lr!r} gives k = lr / model_std^2 = {self.k:.4g} >= 2: SGD "
                    f"diverges; use lr < {2 * self.model_std**2:.4g}"
                )
            raise ValidationError(
                f"lr={self.lr!r} gives the gain lr S^-1 an eigenvalue {self.lr * lam:.4g} >= 2: "
                f"SGD diverges; use lr < {2 / lam:.4g}"
            )

    def _infer_dim(self, mu_arr) -> int:
        if mu_arr.ndim == 1:
            if mu_arr.size == 0:
                raise ShapeError("mu is empty; pass a vector of length d >= 1")
            return int(mu_arr.size)
        for name in ("data_cov", "model_cov", "init_cov"):
            val = getattr(self, name)
            if val is not None:
                return as_square_matrix(name, val).shape[0]
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ properties
    @property
    def is_vector(self) -> bool:
        """True for a learner built from vectors/matrices (closed forms by propagation)."""
        return isinstance(self.mu, tuple)

    @property
    def dim(self) -> int:
        """Dimension d of theta."""
        mu = self.mu  # a tuple for a vector learner (see is_vector)
        return len(mu) if isinstance(mu, tuple) else 1

    @property
    def mean_vector(self) -> np.ndarray:
        """``mu`` as an array ``(d,)``."""
        return np.atleast_1d(np.asarray(self.mu, dtype=float))

    @property
    def init_mean_vector(self) -> np.ndarray:
        """``init_mean`` as an array ``(d,)``."""
        return np.atleast_1d(np.asarray(self.init_mean, dtype=float))

    @property
    def data_cov_matrix(self) -> np.ndarray:
        """``S_d`` as a ``(d, d)`` array."""
        if self.is_vector:
            return np.array(self.data_cov, dtype=float)
        return np.array([[self.data_std**2]])

    @property
    def model_cov_matrix(self) -> np.ndarray:
        """``S`` as a ``(d, d)`` array."""
        if self.is_vector:
            return np.array(self.model_cov, dtype=float)
        return np.array([[self.model_std**2]])

    @property
    def init_cov_matrix(self) -> np.ndarray:
        """``V_0`` as a ``(d, d)`` array."""
        if self.is_vector:
            return np.array(self.init_cov, dtype=float)
        return np.array([[self.init_var]])

    @property
    def k(self) -> float | np.ndarray:
        """``k = lr / model_std^2`` (one dimension), else the gain matrix ``lr S^-1``."""
        if self.is_vector:
            return self.lr * np.linalg.inv(self.model_cov_matrix)
        return self.lr / self.model_std**2

    def lr_at(self, step: int) -> float:
        """Learning rate of the move ``step -> step + 1``."""
        return float(_lr_values(self, int(step) + 1)[-1])

    @property
    def _symbolic_ok(self) -> bool:
        return (not self.is_vector) and self.sampling == "iid" and self.lr_schedule is None

    def _args(self):
        return (self.k, self.init_var, self.data_std, self.n_data, self.batch_size,
                self.model_std, self.mu, self.init_mean)

    @staticmethod
    def expressions() -> dict:
        """The SymPy expressions behind :meth:`closed_form` (in ``t k v0 sd N m s mu mu0``)."""
        from ..symbolic.learner import derive_gaussian_learner

        return dict(derive_gaussian_learner()[0])

    # ------------------------------------------------------------------ closed forms
    def closed_form(self, t: ArrayLike, *, method: str = "auto") -> Mapping:
        """Exact values at step(s) ``t`` (int or array of ints >= 0).

        Parameters
        ----------
        t : int or array of int
        method : {"auto", "symbolic", "numeric"}
            ``"symbolic"``: the SymPy closed forms (one dimension, constant rate, i.i.d.
            batches only); ``"numeric"``: exact covariance propagation (every case);
            ``"auto"``: symbolic where it applies. Both give the same numbers to round-off.

        Returns
        -------
        Mapping
            The keys :data:`CLOSED_FORM_KEYS` (``l_info`` is the ``mi`` reading) plus
            ``sigma_x_kl`` (second route to ``sigma_x``), ``l_info_functional``,
            ``info_flow_x_accumulated`` (``sum_{s<t} info_flow_x(s)``, the accumulated
            information flow into X; the old name ``l_info_flow`` still reads, with a
            ``DeprecationWarning``), ``heat_theta``, ``kl``, ``sq_dev_bbar``
            (``E |Theta_t - Bbar|^2``), ``generalization_gap`` (``E[L(Theta_t) -
            U_B(Theta_t)]``, L the population loss), the moments ``mean_theta``, ``var_theta``,
            ``var_theta_given_b`` (arrays ``(d,)``, ``(d, d)`` per step for a vector
            learner, floats otherwise) and the parameter reservoir's :data:`RESERVOIR_KEYS`
            (``theory/learning.md`` section 7; NaN under ``sampling="reshuffle"``, whose
            parameter process is not Markov given B). Step-indexed entries (work, heat,
            flows, sigma's, kl, heat_theta, medium entropy) refer to the move ``t -> t+1``.
        """
        tt = np.asarray(t)
        if tt.dtype.kind not in "iu":
            if tt.dtype.kind == "f" and np.all(tt == np.round(tt)):
                tt = tt.astype(np.int64)
            else:
                raise ValidationError(f"t={t!r} must be an int or an array of ints")
        if np.any(tt < 0):
            raise ValidationError(f"t={t!r} must be >= 0")
        choose_method("method", method, {"auto": 0, "symbolic": 1, "numeric": 2})
        if method == "symbolic" and not self._symbolic_ok:
            raise ValidationError(
                "method='symbolic' covers the one-dimensional learner with a constant rate and "
                "sampling='iid' only; use method='numeric' (or 'auto')"
            )
        tmax = int(tt.max(initial=0))
        limit = _MAX_STEP_VALUES // self.dim**2
        if tmax > limit:
            raise ValidationError(
                f"t={tmax} is too large for a {self.dim}-dimensional learner (at most {limit} "
                "steps: every step up to t is propagated)"
            )
        if method == "numeric" or (method == "auto" and not self._symbolic_ok):
            num = _propagate(self, tmax)
            out = {name: v[tt] for name, v in num.items()}
        else:
            out, grid = self._symbolic(tt, tmax)
            mom = self._symbolic_moments(tmax, grid)
            flat = tt.reshape(-1)
            q = _quantities_chunked(self, *(m[flat] for m in mom), extras_only=True)
            for name in _NUMERIC_EXTRAS:
                if name in q:
                    out[name] = q[name].reshape(tt.shape)
            with np.errstate(divide="ignore", invalid="ignore"):
                cum = np.concatenate([[0.0], np.cumsum(_medium_entropy(self, *mom))])
                ent0 = _gauss_entropy(mom[1][:1], 1)[0]
                out.update(_efficiency(out["l_info"], out["m_info"],
                                       out["entropy_theta"] - ent0, cum[tt], tt))
        if tt.ndim == 0:
            out = {k: (float(v) if np.ndim(v) == 0 else np.asarray(v)) for k, v in out.items()}
        return _Keys(out)

    def _symbolic(self, tt, tmax):
        """The SymPy keys at ``tt`` and, when every step was evaluated, that grid."""
        args = self._args()
        grid = None
        if tt.size * 4 >= tmax + 1:  # most steps asked for: one pass over every step
            grid = _symbolic_eval(np.arange(tmax + 1, dtype=np.float64), args)
            out = {name: v[tt] for name, v in grid.items()}
            flows = grid["info_flow_x"][:tmax]
        else:
            out = _symbolic_eval(tt.astype(np.float64), args)
            flows = _symbolic_eval(np.arange(tmax, dtype=float), args, ("info_flow_x",))
            flows = flows["info_flow_x"]
        # theta_0 does not depend on B: the information about B is 0 at t = 0 (also when
        # init_var = 0, where the formula reads 0/0)
        for name in ("m_info", "l_info", "l_info_functional"):
            out[name] = np.where(tt == 0, 0.0, out[name])
        cum = np.concatenate([[0.0], np.cumsum(flows)])
        out["info_flow_x_accumulated"] = cum[tt]
        return out, grid

    def _symbolic_moments(self, tmax, grid=None):
        """Moments at steps 0..tmax from the SymPy closed forms (1-d, constant rate, iid)."""
        tf = np.arange(tmax + 1, dtype=np.float64)
        args = self._args()
        if grid is None:
            grid = _symbolic_eval(tf, args, ("mean_theta", "var_theta"))
        M, W = grid["mean_theta"][:tmax + 1], grid["var_theta"][:tmax + 1]
        e = (1.0 - (1.0 - self.k) ** tf) * self.data_std**2 / self.n_data
        n = tmax + 1
        return (M.reshape(n, 1), W.reshape(n, 1, 1), e.reshape(n, 1, 1), np.zeros((n, 1, 1)),
                np.full((n, 1, 1), self.k))

    # ------------------------------------------------------------------ simulation
    def model(self) -> GaussianMean:
        """The PPM ``N(theta, s^2 I)`` with the learner's initialisation (isotropic only)."""
        S, V0 = self.model_cov_matrix, self.init_cov_matrix
        d = self.dim
        im = self.init_mean_vector
        iso = (np.allclose(S, S[0, 0] * np.eye(d), rtol=0, atol=0)
               and np.allclose(V0, V0[0, 0] * np.eye(d), rtol=0, atol=0)
               and np.all(im == im[0]))
        if not iso:
            raise ValidationError(
                "this learner has anisotropic covariances or an uneven init_mean; it has no "
                "GaussianMean equivalent: use GaussianLearner.simulate"
            )
        return GaussianMean(dim=d, std=math.sqrt(S[0, 0]), init_mean=float(im[0]),
                            init_std=math.sqrt(V0[0, 0]))

    def draw_data(self, rng: np.random.Generator) -> np.ndarray:
        """One training set of ``n_data`` draws from ``N(mu, S_d)`` (shape (N,) or (N, d))."""
        if not self.is_vector:
            return self.mu + self.data_std * rng.standard_normal(self.n_data)
        L = np.linalg.cholesky(self.data_cov_matrix)
        return self.mean_vector + rng.standard_normal((self.n_data, self.dim)) @ L.T

    def simulate(
        self,
        n_steps: int,
        *,
        n_datasets: int = 2000,
        n_trials: int = 1,
        method: str | None = None,
        seed: SeedLike | None = None,
        record: Sequence[str] = ("params", "samples", "work", "heat", "energy", "kl", "heat_theta"),
    ) -> LearningEnsemble:
        """Simulate the learner: a :class:`LearningEnsemble` over training sets and seeds.

        Parameters
        ----------
        n_steps : int
        n_datasets, n_trials : int
            Training sets drawn from the target, and trials per training set.
        method : {"gaussian", "minibatch", "shuffle"}, optional
            ``"gaussian"``: the exact model (noise of covariance ``S_d / m`` from the
            population); ``"minibatch"``: true mini-batch SGD with replacement;
            ``"shuffle"``: without replacement (epoch shuffling), the process that
            ``sampling="reshuffle"`` describes. Default: ``"shuffle"`` for
            ``sampling="reshuffle"``, else ``"gaussian"``.
        seed : int, Generator or None

        Notes
        -----
        The one-dimensional learner with a constant rate runs on :func:`learn`; vector
        learners and schedules run on a direct NumPy simulation of the same update (the
        ensemble's ``model`` is then the learner itself). True mini-batch SGD has noise
        covariance ``S_B / m`` (``S_B`` the training set's own covariance, mean
        ``(N-1)/N S_d``) and agrees with the i.i.d. closed forms only up to O(1/N).
        """
        if method is None:
            method = "shuffle" if self.sampling == "reshuffle" else "gaussian"
        table = {"gaussian": "gaussian", "minibatch": "replacement", "shuffle": "shuffle"}
        engine_method = choose_method("method", method, table)
        n_steps = positive_int("n_steps", n_steps)
        if not self.is_vector and self.lr_schedule is None:
            noise_cov = (self.data_std**2 / self.model_std**4 if engine_method == "gaussian"
                         else None)
            return learn(self.model(), self.draw_data, lr=self.lr, batch_size=self.batch_size,
                         n_steps=n_steps, n_trials=n_trials, n_datasets=n_datasets, seed=seed,
                         method=engine_method, init="own", record=record, noise_cov=noise_cov)
        return _simulate_direct(self, n_steps, positive_int("n_datasets", n_datasets),
                                positive_int("n_trials", n_trials), engine_method, seed,
                                record)

    def estimate(self, ensemble: Any, t: ArrayLike) -> dict:
        """Estimates (with standard errors) of the closed-form quantities from an ensemble."""
        return gaussian_learner_estimates(ensemble, t, model_cov=self.model_cov_matrix,
                                          learner=self)


# ---------------------------------------------------------------------------------------------
# exact covariance propagation (any dimension, schedules, reshuffling)


def _noise_moments(g: GaussianLearner):
    """``(D, O, epoch)``: per-step noise covariance, within-epoch cross-covariance, length."""
    Sd, N, m = g.data_cov_matrix, g.n_data, g.batch_size
    if g.sampling == "reshuffle":
        return Sd * (N - m) / (N * m), -Sd / N, N // m
    return Sd / m, np.zeros_like(Sd), 0


def _lr_values(g: GaussianLearner, n: int) -> np.ndarray:
    """Learning rates of the moves 0..n-1, validated (positive, finite, stable)."""
    sch = g.lr_schedule
    if sch is None:
        return np.full(n, g.lr)
    if callable(sch):
        vals = np.empty(n)
        for s in range(n):
            v = sch(s)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValidationError(
                    f"lr_schedule({s}) returned {short_repr(v)}; it must return a positive "
                    "number"
                )
            vals[s] = float(v)
    else:
        sch = cast("tuple[float, ...]", sch)  # __post_init__ stores a sequence as a tuple
        if n > len(sch):
            raise ValidationError(
                f"lr_schedule has {len(sch)} entries but step {len(sch)} was asked for; pass "
                f"at least {n} learning rates"
            )
        vals = np.asarray(sch[:n], dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(vals) & (vals > 0)))
    if bad.size:
        raise ValidationError(
            f"lr_schedule({bad[0]}) = {vals[bad[0]]!r} must be a positive number"
        )
    lam = 1.0 / float(np.linalg.eigvalsh(g.model_cov_matrix).min())
    over = np.flatnonzero(vals * lam >= 2)
    if over.size:
        j = over[0]
        raise ValidationError(
            f"lr_schedule({j}) = {vals[j]:.4g} makes SGD diverge (gain eigenvalue "
            f"{vals[j] * lam:.4g} >= 2); keep it below {2 / lam:.4g}"
        )
    return vals


def _moments(g: GaussianLearner, tmax: int):
    """Moments at steps 0..tmax and the gains ``K_t``.

    Mean M, variance W, ``E = Cov(theta, Bbar)`` and ``Cov(theta_t, xi_t)``.
    """
    d = g.dim
    Sinv = np.linalg.inv(g.model_cov_matrix)
    Sb = g.data_cov_matrix / g.n_data
    D, Ocross, epoch = _noise_moments(g)
    mu = g.mean_vector
    n = tmax + 1
    lrs = _lr_values(g, n)
    M = np.empty((n, d))
    W = np.empty((n, d, d))
    E = np.empty((n, d, d))
    X = np.zeros((n, d, d))  # Cov(theta_t, xi_t)
    K = lrs[:, None, None] * Sinv
    M[0], W[0], E[0] = g.init_mean_vector, g.init_cov_matrix, 0.0
    G = np.zeros((d, d))
    eye = np.eye(d)
    SbD = Sb + D
    for s in range(n - 1):
        Ks = K[s]
        A = eye - Ks
        X[s] = G @ Ocross
        M[s + 1] = A @ M[s] + Ks @ mu
        E[s + 1] = A @ E[s] + Ks @ Sb
        cross = A @ (E[s] + X[s]) @ Ks.T
        Wn = A @ W[s] @ A.T + Ks @ SbD @ Ks.T + cross + cross.T
        W[s + 1] = 0.5 * (Wn + Wn.T)
        if epoch and (s + 1) % epoch != 0:
            G = A @ G + Ks
        else:
            G = np.zeros((d, d))
    X[n - 1] = G @ Ocross
    return M, W, E, X, K


def _det_small(c):
    """Determinants of a stack of 1x1 or 2x2 matrices, elementwise (no LAPACK call)."""
    if c.shape[-1] == 1:
        return c[..., 0, 0]
    return c[..., 0, 0] * c[..., 1, 1] - c[..., 0, 1] * c[..., 1, 0]


def _logdet(c):
    """``ln det c`` of a stack of matrices (-inf when singular, NaN when negative)."""
    if c.shape[-1] <= 2:  # the blocks of a one-dimensional learner: elementwise
        det = _det_small(c)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(det > 0, np.log(np.where(det > 0, det, 1.0)),
                            np.where(det == 0, -np.inf, np.nan))
    sign, ld = np.linalg.slogdet(c)
    return np.where(sign > 0, ld, np.where(sign == 0, -np.inf, np.nan))


def _logabsdet(c):
    """``ln |det c|`` of a stack of matrices (``numpy.linalg.slogdet(c)[1]``)."""
    if c.shape[-1] <= 2:
        with np.errstate(divide="ignore"):
            return np.log(np.abs(_det_small(c)))
    return np.linalg.slogdet(c)[1]


def _inv(c):
    """Inverse of a stack of matrices (1x1 elementwise)."""
    if c.shape[-1] == 1:
        return 1.0 / c
    return np.linalg.inv(c)


def _propagate(g: GaussianLearner, tmax: int, moments=None) -> dict:
    """Every closed-form quantity at steps 0..tmax (arrays over steps), batched in NumPy."""
    M, W, E, Xc, K = _moments(g, tmax) if moments is None else moments
    T = tmax + 1
    out = _quantities_chunked(g, M, W, E, Xc, K)
    tgrid = np.arange(T)
    for name in ("m_info", "l_info", "l_info_functional"):
        out[name] = np.where(tgrid == 0, 0.0, out[name])
    out["info_flow_x_accumulated"] = np.concatenate([[0.0], np.cumsum(out["info_flow_x"])])[:T]
    cum_medium = np.concatenate([[0.0], np.cumsum(out["medium_entropy_theta"])])[:T]
    with np.errstate(divide="ignore", invalid="ignore"):
        out.update(_efficiency(out["l_info"], out["m_info"],
                               out["entropy_theta"] - out["entropy_theta"][0], cum_medium, tgrid))
    return out


def _efficiency(l_info, m_info, d_entropy, cum_medium, t):
    """Learning efficiency over the first t moves (Goldt & Seifert; learning.md section 9).

    ``eta = I / (S(Theta_t) - S(Theta_0) + sum_{s<t} <Delta s_m>) <= 1``.
    """
    denom = d_entropy + cum_medium
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"efficiency": np.where(t == 0, np.nan, l_info / denom),
                "efficiency_m": np.where(t == 0, np.nan, m_info / denom)}


def _gauss_entropy(cov, d):
    return 0.5 * (d * math.log(2 * math.pi * math.e) + _logdet(cov))


def _medium_entropy(g: GaussianLearner, M, W, E, Xc, K):
    """Mean medium entropy of each parameter move from the moments alone (iid sampling).

    ``b = theta - A theta' - K Bbar = (I + A) K (theta - Bbar) - A K xi``, so
    ``<Delta s_m> = 1/2 [E|P u|^2_{Q^-1} + tr(Q^-1 A K D K^T A^T) - d]``, ``P = (I + A) K``,
    ``u = theta - Bbar``, ``Q = K D K^T``.
    """
    d = g.dim
    if g.sampling != "iid":
        return np.full(M.shape[0], np.nan)
    Sb = g.data_cov_matrix / g.n_data
    D, _, _ = _noise_moments(g)
    A = np.eye(d) - K
    KT = np.swapaxes(K, 1, 2)
    Qinv = _inv(K @ D @ KT)
    P = (np.eye(d) + A) @ K
    Cu = W + Sb - E - np.swapaxes(E, 1, 2)
    mu_u = M - g.mean_vector
    R = np.swapaxes(P, 1, 2) @ Qinv @ P
    AK = A @ K
    e_b = (np.einsum("tij,tji->t", R, Cu) + np.einsum("ti,tij,tj->t", mu_u, R, mu_u)
           + np.einsum("tij,tji->t", Qinv, AK @ D @ np.swapaxes(AK, 1, 2)))
    return 0.5 * (e_b - d)


#: what the SymPy route takes from :func:`_quantities` (it has closed forms for the rest)
_NUMERIC_EXTRAS = ("sq_dev_bbar", "generalization_gap", *RESERVOIR_KEYS)


def _quantities_chunked(g: GaussianLearner, *moments, extras_only: bool = False) -> dict:
    """:func:`_quantities` over blocks of ``_CHUNK`` steps (bounded memory).

    ``extras_only``: only :data:`_NUMERIC_EXTRAS` (the keys the SymPy route lacks).
    """
    T = moments[0].shape[0]
    parts = [_quantities(g, *(m[a:a + _CHUNK] for m in moments), extras_only=extras_only)
             for a in range(0, T, _CHUNK)]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _quantities(g: GaussianLearner, M, W, E, Xc, K, *, extras_only: bool = False) -> dict:
    """Per-step quantities from the moments at a block of steps (arrays over the block).

    ``extras_only``: :data:`_NUMERIC_EXTRAS` only (same values, fewer determinants).
    """
    d = g.dim
    T = M.shape[0]
    Sinv = np.linalg.inv(g.model_cov_matrix)
    Sb = g.data_cov_matrix / g.n_data
    mu = g.mean_vector
    eye = np.eye(d)
    C, mean, b, Kt, D = _joint_moments(g, M, W, E, Xc, K)
    iB, iT, iX, iT1, iX2 = range(5)

    def blk(i, j, CC=C):
        return CC[:, b[i], b[j]]

    def sub(idx, CC=C):
        rows = np.concatenate([np.arange(i * d, (i + 1) * d) for i in idx])
        return CC[:, rows[:, None], rows[None, :]]

    def mi(i, j, CC=C):
        return 0.5 * (_logdet(blk(i, i, CC)) + _logdet(blk(j, j, CC)) - _logdet(sub((i, j), CC)))

    def ent_ld(ld, dim):
        return 0.5 * (dim * math.log(2 * math.pi * math.e) + ld)

    def msq(i, j, weight):
        dm = mean[:, b[i]] - mean[:, b[j]]
        cv = blk(i, i) + blk(j, j) - blk(i, j) - blk(j, i)
        return (np.einsum("ij,tji->t", weight, cv) + np.einsum("ti,ij,tj->t", dm, weight, dm))

    Sb_inv = np.linalg.inv(Sb)
    Cg = _given_bbar(C, Sb_inv, d)

    with np.errstate(divide="ignore", invalid="ignore"):
        out = {}
        heat = 0.5 * (msq(iX2, iT1, Sinv) - msq(iX, iT1, Sinv))
        out["sq_dev_bbar"] = msq(iT, iB, eye)
        # exact generalisation gap E[L(theta) - U_B(theta)], L the population loss:
        # 1/2 E|theta - mu|^2_{S^-1} - 1/2 E|theta - Bbar|^2_{S^-1} + tr(S^-1 S_d) / (2N)
        dmu = M[:T] - mu
        pop = np.einsum("ij,tji->t", Sinv, W[:T]) + np.einsum("ti,ij,tj->t", dmu, Sinv, dmu)
        out["generalization_gap"] = 0.5 * (pop - msq(iT, iB, Sinv)) + 0.5 * np.trace(
            Sinv @ g.data_cov_matrix) / g.n_data
        out.update(_reservoir(g, C, Cg, mean, b, mi, heat, Kt, D))
        if extras_only:
            return out
        out["m_info"] = mi(iT, iB)
        out["l_info"] = mi(iX, iB)
        out["l_info_functional"] = out["m_info"]
        out["i_x_theta"] = mi(iX, iT)
        work = 0.5 * msq(iT1, iT, Sinv)
        out["work"] = work
        out["kl"] = work
        out["heat"] = heat
        out["heat_theta"] = -0.5 * (msq(iT1, iB, Sinv) - msq(iT, iB, Sinv))
        i_x1_t1 = mi(iX, iT1)
        out["info_flow_theta"] = i_x1_t1 - out["i_x_theta"]
        out["info_flow_x"] = mi(iX2, iT1) - i_x1_t1
        ldX1, ldX2 = _logdet(blk(iX, iX)), _logdet(blk(iX2, iX2))
        out["sigma_x"] = 0.5 * (ldX2 - ldX1) - heat - out["info_flow_x"]
        out["sigma_x_kl"] = _sigma_x_kl_exact(C, mean, b, Sinv)
        V = W[:T] - E[:T] @ Sb_inv @ np.swapaxes(E[:T], 1, 2)
        V = 0.5 * (V + np.swapaxes(V, 1, 2))
        out["entropy_theta"] = ent_ld(_logdet(W[:T]), d)
        out["entropy_theta_given_b"] = ent_ld(_logdet(V), d)
        out.update(_theta_moments(g, M[:T], W[:T], V))
    return out


def _joint_moments(g: GaussianLearner, M, W, E, Xc, K):
    """Covariance ``C`` and mean of (Bbar, theta_t, X_{t+1}, theta_{t+1}, X_{t+2}) per step.

    Returns ``(C, mean, b, Kt, D)``: ``b`` the five block slices, ``Kt`` the gains of the
    block, ``D`` the gradient-noise covariance.
    """
    d = g.dim
    T = M.shape[0]
    S = g.model_cov_matrix
    Sb = g.data_cov_matrix / g.n_data
    D, _, _ = _noise_moments(g)
    mu = g.mean_vector
    eye = np.eye(d)
    # base covariance of (Bbar, theta_t, xi_t, z1, z2) and the linear map to
    # (Bbar, theta_t, X_{t+1}, theta_{t+1}, X_{t+2})
    S0 = np.zeros((T, 5 * d, 5 * d))
    b = [slice(i * d, (i + 1) * d) for i in range(5)]
    S0[:, b[0], b[0]] = Sb
    S0[:, b[1], b[0]] = E[:T]
    S0[:, b[0], b[1]] = np.swapaxes(E[:T], 1, 2)
    S0[:, b[1], b[1]] = W[:T]
    S0[:, b[1], b[2]] = Xc[:T]
    S0[:, b[2], b[1]] = np.swapaxes(Xc[:T], 1, 2)
    S0[:, b[2], b[2]] = D
    S0[:, b[3], b[3]] = S
    S0[:, b[4], b[4]] = S
    Kt = K[:T]
    A = eye - Kt
    L = np.zeros((T, 5 * d, 5 * d))
    L[:, b[0], b[0]] = eye
    L[:, b[1], b[1]] = eye
    L[:, b[2], b[1]] = eye
    L[:, b[2], b[3]] = eye
    for row in (3, 4):
        L[:, b[row], b[0]] = Kt
        L[:, b[row], b[1]] = A
        L[:, b[row], b[2]] = Kt
    L[:, b[4], b[4]] = eye
    C = L @ S0 @ np.swapaxes(L, 1, 2)
    C = 0.5 * (C + np.swapaxes(C, 1, 2))
    m0 = np.zeros((T, 5 * d))
    m0[:, b[0]] = mu
    m0[:, b[1]] = M[:T]
    mean = np.einsum("tij,tj->ti", L, m0)
    return C, mean, b, Kt, D


def _given_bbar(C, Sb_inv, d):
    """Conditional covariance given Bbar of (theta_t, X_{t+1}, theta_{t+1}, X_{t+2}).

    Same layout as ``C``; block 0 is unused (zero).
    """
    rest = np.arange(d, 5 * d)
    C_rB = C[:, rest, :d]
    Cc = C[:, rest[:, None], rest[None, :]] - C_rB @ Sb_inv @ np.swapaxes(C_rB, 1, 2)
    Cc = 0.5 * (Cc + np.swapaxes(Cc, 1, 2))
    Cg = np.zeros_like(C)  # same layout as C, block 0 unused
    Cg[:, d:, d:] = Cc
    return Cg


def _sigma_x_kl_exact(C, mean, b, Sinv):
    """Route 2 of ``sigma_x``: ``E KL(P(x_{t+1} | theta_{t+1}) || N(theta_{t+1}, S))``."""
    d = Sinv.shape[0]
    eye = np.eye(d)
    iX, iT1 = 2, 3

    def blk(i, j):
        return C[:, b[i], b[j]]

    CT1 = blk(iT1, iT1)
    Bc = blk(iX, iT1) @ _inv(CT1)
    v1 = blk(iX, iX) - Bc @ blk(iT1, iX)
    dm = mean[:, b[iX]] - mean[:, b[iT1]]
    Bm = Bc - eye
    off2 = (np.einsum("ti,ij,tj->t", dm, Sinv, dm)
            + np.einsum("ij,tji->t", Sinv, Bm @ CT1 @ np.swapaxes(Bm, 1, 2)))
    return 0.5 * (np.einsum("ij,tji->t", Sinv, v1) + off2 - d - _logdet(Sinv @ v1))


def _theta_moments(g: GaussianLearner, M, W, V):
    """Mean and variances of theta (scalars for a scalar learner)."""
    if g.is_vector:
        return {"mean_theta": M.copy(), "var_theta": W.copy(), "var_theta_given_b": V}
    return {"mean_theta": M[:, 0], "var_theta": W[:, 0, 0], "var_theta_given_b": V[:, 0, 0]}


def _reservoir(g, C, Cg, mean, b, mi, heat, Kt, D):
    """The parameter reservoir's second law given B (``theory/learning.md`` section 7)."""
    T = C.shape[0]
    d = g.dim
    nan = np.full(T, np.nan)
    keys = {k: nan.copy() for k in RESERVOIR_KEYS if not k.startswith("efficiency")}
    if g.sampling != "iid":
        return keys
    iB, iT, iX, iT1, iX2 = range(5)
    eye = np.eye(d)
    # medium entropy of one parameter move: ln P(theta'|theta,B) - ln P(theta|theta',B), the
    # Gaussian kernel N(A theta + K Bbar, Q), Q = K D K^T (D^-1-weighted for anisotropic D)
    Q = Kt @ D @ np.swapaxes(Kt, 1, 2)
    Qinv = _inv(Q)
    A = eye - Kt
    # b = theta_t - A theta_{t+1} - K Bbar, a linear image of (Bbar, theta_t, theta_{t+1})
    Lb = np.concatenate([-Kt, np.broadcast_to(eye, Kt.shape), -A], axis=2)
    idx = np.concatenate([np.arange(i * d, (i + 1) * d) for i in (iB, iT, iT1)])
    Csub = C[:, idx[:, None], idx[None, :]]
    msub = mean[:, idx]
    cb = Lb @ Csub @ np.swapaxes(Lb, 1, 2)
    mb = np.einsum("tij,tj->ti", Lb, msub)
    e_b = np.einsum("tij,tji->t", Qinv, cb) + np.einsum("ti,tij,tj->t", mb, Qinv, mb)
    medium = 0.5 * (e_b - d)  # E a^T Q^-1 a = d for a = K xi
    keys["medium_entropy_theta"] = medium

    def cblk(i, j):
        return Cg[:, b[i], b[j]]

    flow_t_b = mi(iX, iT1, Cg) - mi(iX, iT, Cg)
    keys["info_flow_theta_given_b"] = flow_t_b
    ldT, ldT1 = _logabsdet(cblk(iT, iT)), _logabsdet(cblk(iT1, iT1))
    keys["sigma_theta"] = 0.5 * (ldT1 - ldT) + medium - flow_t_b
    ldX1, ldX2 = _logabsdet(cblk(iX, iX)), _logabsdet(cblk(iX2, iX2))
    flow_x_b = mi(iX2, iT1, Cg) - mi(iX, iT1, Cg)
    keys["sigma_x_given_b"] = 0.5 * (ldX2 - ldX1) - heat - flow_x_b

    def joint_ld(i, j):
        rows = np.concatenate([np.arange(k * d, (k + 1) * d) for k in (i, j)])
        return _logabsdet(Cg[:, rows[:, None], rows[None, :]])

    keys["sigma_total"] = 0.5 * (joint_ld(iT1, iX2) - joint_ld(iT, iX)) - heat + medium
    # Theta alone: S(Theta_{t+1}|B) - S(Theta_t|B) + <Delta s_m> >= 0 (no X)
    keys["entropy_production_theta"] = 0.5 * (ldT1 - ldT) + medium
    return keys


# ---------------------------------------------------------------------------------------------
# direct simulation (vector learners, schedules)


def _check_direct(g: GaussianLearner, n_steps, n_ds, n_trials, method, record):
    """Validated ``record`` tuple; rejects a batch larger than the set and oversized calls."""
    from ._engine import RECORDABLE

    if isinstance(record, str):
        record = (record,)
    record = tuple(record)
    allowed = ("params", "samples", "work", "heat", "energy", "kl", "heat_theta")
    for r in record:
        if r not in RECORDABLE or r not in allowed:
            raise ValidationError(
                f"record entry {r!r} is not available for this learner; valid entries are "
                f"{', '.join(allowed)}"
            )
    d, N, m = g.dim, g.n_data, g.batch_size
    if method == "shuffle" and m > N:
        raise ValidationError(f"batch_size={m} exceeds the training-set size {N}")
    Kn = n_ds * n_trials
    sizes = {"n_datasets * n_trials * (n_steps + 1) * d": Kn * (n_steps + 1) * d,
             "n_datasets * n_data * d": n_ds * N * d}
    if method != "gaussian":
        sizes["n_datasets * n_trials * n_steps * batch_size * d"] = Kn * n_steps * m * d
    for what, size in sizes.items():
        if size > 50_000_000:
            raise ValidationError(
                f"{what} = {size} values is too large for one call (limit 5e7); simulate in "
                "parts"
            )
    return record


def _minibatch_noise(seq, data, data_of, bbar, n_steps, m, method):
    """Minibatch mean minus training-set mean, ``(Kn, n_steps, d)``, one stream per trajectory.

    ``method``: ``"replacement"`` (indices drawn with replacement) or ``"shuffle"`` (epochs of
    a permutation).
    """
    Kn = data_of.shape[0]
    N = data.shape[1]
    rngs = [np.random.default_rng(int(s)) for s in trajectory_seeds(seq, Kn)]
    idx = np.empty((Kn, n_steps, m), dtype=np.int64)
    if method == "replacement":
        for k, r in enumerate(rngs):
            idx[k] = r.integers(0, N, size=(n_steps, m))
    else:
        per = N // m
        n_ep = -(-n_steps // per)
        for k, r in enumerate(rngs):
            perms = r.permuted(np.tile(np.arange(N), (n_ep, 1)), axis=1)[:, :per * m]
            idx[k] = perms.reshape(n_ep * per, m)[:n_steps]
    batch = data[data_of[:, None, None], idx]  # (Kn, n_steps, m, d)
    return batch.mean(axis=2) - bbar[data_of][:, None, :]


def _simulate_direct(g: GaussianLearner, n_steps, n_ds, n_trials, method, seed, record):
    record = _check_direct(g, n_steps, n_ds, n_trials, method, record)
    d, N, m = g.dim, g.n_data, g.batch_size
    Kn = n_ds * n_trials
    root = as_seed_sequence(seed)
    kids = root.spawn(5)
    ds_rngs = [np.random.default_rng(int(s)) for s in trajectory_seeds(kids[0], n_ds)]
    data = np.stack([np.asarray(g.draw_data(r), dtype=float).reshape(N, d) for r in ds_rngs])
    data_of = np.repeat(np.arange(n_ds, dtype=np.int64), n_trials)
    bbar = data.mean(axis=1)
    S = g.model_cov_matrix
    Sinv = np.linalg.inv(S)
    cS = np.linalg.cholesky(S)
    V0 = g.init_cov_matrix
    w0, U0 = np.linalg.eigh(V0)
    c0 = U0 * np.sqrt(np.clip(w0, 0.0, None))
    cD = np.linalg.cholesky(g.data_cov_matrix / m)

    def per_traj(j, shape):
        rngs = [np.random.default_rng(int(s)) for s in trajectory_seeds(kids[j], Kn)]
        return np.stack([r.standard_normal(shape) for r in rngs]), rngs

    z0, _ = per_traj(1, (d,))
    theta = g.init_mean_vector + z0 @ c0.T
    zx, _ = per_traj(2, (n_steps + 1, d))
    lrs = _lr_values(g, n_steps)
    if method == "gaussian":
        xi, _ = per_traj(3, (n_steps, d))
        noise = xi @ cD.T
    else:
        noise = _minibatch_noise(kids[4], data, data_of, bbar, n_steps, m, method)
    B = bbar[data_of]
    params = np.empty((Kn, n_steps + 1, d))
    samples = np.empty((Kn, n_steps + 1, d))
    params[:, 0] = theta
    x = theta + zx[:, 0] @ cS.T
    samples[:, 0] = x
    half_logdet = 0.5 * (d * math.log(2 * math.pi) + np.linalg.slogdet(S)[1])

    def energy(th, xx):
        r = xx - th
        return 0.5 * np.einsum("ki,ij,kj->k", r, Sinv, r) + half_logdet

    def ub(th):
        r = th - B
        return 0.5 * np.einsum("ki,ij,kj->k", r, Sinv, r)

    work = np.empty((Kn, n_steps))
    heat = np.empty((Kn, n_steps))
    kl = np.empty((Kn, n_steps))
    heat_theta = np.empty((Kn, n_steps))
    en = np.empty((Kn, n_steps + 1))
    en[:, 0] = energy(theta, x)
    for s in range(n_steps):
        new = theta - lrs[s] * (theta - B - noise[:, s]) @ Sinv.T
        delta = new - theta
        kl[:, s] = 0.5 * np.einsum("ki,ij,kj->k", delta, Sinv, delta)
        heat_theta[:, s] = -(ub(new) - ub(theta))
        e_mid = energy(new, x)
        work[:, s] = e_mid - en[:, s]
        x = new + zx[:, s + 1] @ cS.T
        en[:, s + 1] = energy(new, x)
        heat[:, s] = en[:, s + 1] - e_mid
        theta = new
        params[:, s + 1] = theta
        samples[:, s + 1] = x
    want = set(record)
    gen = bool(want & {"work", "heat", "energy"})
    return LearningEnsemble(
        model=g,  # type: ignore[arg-type]  # the direct simulator's ensemble holds the learner
        steps=np.arange(n_steps + 1, dtype=np.int64), lr=float(lrs[0]),
        batch_size=m, n_trials=n_trials, n_datasets=n_ds, data_of=data_of, dataset_mean=bbar,
        params=params if "params" in want else None,
        samples=samples if "samples" in want else None,
        work=work if "work" in want else None, heat=heat if "heat" in want else None,
        energy=en if gen or "energy" in want else None, kl=kl if "kl" in want else None,
        heat_theta=heat_theta if "heat_theta" in want else None,
        meta={"method": method, "simulator": "direct", "seed": seed_repr(seed),
              "n_data": N, "model": repr(g), "lr_schedule": lrs.tolist()},
    )


# ---------------------------------------------------------------------------------------------
# estimates from an ensemble


def _resid_ld(T, B):
    """``ln det`` of the residual covariance of T regressed on B (dof n - 1 - q)."""
    Bc, Tc = B - B.mean(axis=0), T - T.mean(axis=0)
    r = Tc - Bc @ np.linalg.lstsq(Bc, Tc, rcond=None)[0]
    return _ld(r.T @ r / (T.shape[0] - 1 - B.shape[1]))


def _medium_entropy_samples(g: GaussianLearner, th, bbar, ts):
    """Per-trajectory ``ln P(theta_{s+1}|theta_s, B) - ln P(theta_s|theta_{s+1}, B)``."""
    d = g.dim
    D, _, _ = _noise_moments(g)
    lrs = _lr_values(g, int(ts.max()) + 1)
    Sinv = np.linalg.inv(g.model_cov_matrix)
    out = np.empty((th.shape[0], ts.shape[0]))
    for j, s in enumerate(ts):
        K = lrs[s] * Sinv
        A = np.eye(d) - K
        Qinv = np.linalg.inv(K @ D @ K.T)
        T0, T1 = th[:, s], th[:, s + 1]
        a = T1 - T0 @ A.T - bbar @ K.T
        b = T0 - T1 @ A.T - bbar @ K.T
        out[:, j] = 0.5 * (np.einsum("ki,ij,kj->k", b, Qinv, b)
                           - np.einsum("ki,ij,kj->k", a, Qinv, a))
    return out


def _ld(c):
    return float(np.linalg.slogdet(np.atleast_2d(c))[1])


def _cov(a):
    return np.atleast_2d(np.cov(a, rowvar=False))


def _estimates_model(ens, learner, model_cov, model_std):
    """``(learner or None, dim, model covariance)`` for :func:`gaussian_learner_estimates`."""
    model = ens.model
    if learner is None and isinstance(model, GaussianLearner):
        learner = model
    if learner is not None and not isinstance(learner, GaussianLearner):
        raise ValidationError(f"learner={short_repr(learner)} must be a GaussianLearner")
    if isinstance(model, GaussianLearner):
        d = model.dim
        S = model.model_cov_matrix
    elif isinstance(model, GaussianMean):
        d = model.dim
        S = model.std**2 * np.eye(d)
    else:
        raise ValidationError(
            "gaussian_learner_estimates needs an ensemble of GaussianMean or of "
            f"GaussianLearner.simulate, got a model {short_repr(model)}"
        )
    if model_cov is not None:
        S = as_square_matrix("model_cov", model_cov, dim=d)
    elif model_std is not None:
        S = positive_float("model_std", model_std) ** 2 * np.eye(d)
    return learner, d, S


def _check_estimates_ensemble(ens: LearningEnsemble) -> tuple[np.ndarray, np.ndarray]:
    """The ensemble must hold params and samples at every step: ``(params, samples)``."""
    params, samples = ens.params, ens.samples
    if params is None or samples is None or not np.array_equal(
        ens.steps, np.arange(ens.steps[-1] + 1)
    ):
        raise ValidationError(
            "the ensemble must record 'params' and 'samples' at every step (record_every=1)"
        )
    return params, samples


def _estimates_times(ens, t, d):
    """Requested steps as int64, checked against the ensemble's length and size."""
    ts = np.atleast_1d(np.asarray(t, dtype=np.int64))
    if ts.min() < 0 or ts.max() >= ens.n_steps:
        raise ValidationError(f"t={t!r} must lie in 0..{ens.n_steps - 1}")
    # each jackknife replicate drops one training set; its covariances of (X, Theta) in 2d
    # dimensions, and the residual of Theta on Bbar, need more than 2d + 2 samples
    n_kept = ens.n_total - int(np.bincount(np.asarray(ens.data_of)).max())
    if n_kept <= 2 * d + 2:
        raise InsufficientDataError(
            f"{ens.n_datasets} training sets x {ens.n_trials} trial(s) are too few for the "
            f"Gaussian estimates of a {d}-dimensional learner (a jackknife replicate keeps "
            f"{n_kept} trajectories, it needs more than {2 * d + 2}); simulate more training "
            "sets (n_datasets)"
        )
    return ts


def _sigma_x_kl(T1, X1, Sinv, d):
    """Route 2 of ``sigma_x``: KL of the fitted Gaussian ``P(x_{t+1}|theta_{t+1})`` from the model.

    The fit is the regression of ``X_{t+1}`` on ``theta_{t+1}``.
    """
    n = T1.shape[0]
    T1c, X1c = T1 - T1.mean(axis=0), X1 - X1.mean(axis=0)
    Bc = np.linalg.lstsq(T1c, X1c, rcond=None)[0].T
    fit = X1.mean(axis=0) + T1c @ Bc.T
    r1 = X1 - fit
    v1 = r1.T @ r1 / n
    off = fit - T1
    off2 = np.einsum("ki,ij,kj->k", off, Sinv, off).mean()
    return 0.5 * (np.trace(Sinv @ v1) + off2 - d - _ld(Sinv @ v1))


def _entropy_given_b(T0, B, d, two_pi_e):
    """Gaussian ``h(Theta | Bbar)`` from the residual of Theta on Bbar; NaN when too few."""
    n = T0.shape[0]
    if n > d + 2 and np.all(B.var(axis=0) > 0):
        Bcen = B - B.mean(axis=0)
        T0c = T0 - T0.mean(axis=0)
        resid = T0c - Bcen @ np.linalg.lstsq(Bcen, T0c, rcond=None)[0]
        dof = n - 1 - B.shape[1]
        vres = resid.T @ resid / dof
        return 0.5 * (two_pi_e + _ld(vres) - wishart_logdet_bias(d, dof + 1))
    return math.nan


def gaussian_learner_estimates(ens: LearningEnsemble, t: ArrayLike, *,
                               model_cov: ArrayLike | None = None, model_std: float | None = None,
                               learner: Any = None) -> dict:
    """Estimate every quantity of :meth:`GaussianLearner.closed_form` from a simulation.

    Parameters
    ----------
    ens : LearningEnsemble
        From :meth:`GaussianLearner.simulate` (every step recorded, with ``params`` and
        ``samples``).
    t : int or array of ints
        Steps, ``0 <= t < n_steps``.
    model_cov : array (d, d), optional
        The model covariance S (default: from the ensemble's model).
    model_std : float, optional
        Isotropic alternative to ``model_cov``.
    learner : GaussianLearner, optional
        The learner that produced the ensemble (default: the ensemble's model when it is one);
        with ``sampling="iid"`` it gives the parameter kernel, and the estimates then include
        ``medium_entropy_theta`` (the per-trajectory log-ratio of forward and backward
        kernels, averaged), ``info_flow_theta_given_b`` and ``sigma_theta``.

    Returns
    -------
    dict
        name -> :class:`Estimate` (values of shape ``t``), standard errors from a
        delete-a-group jackknife over training sets. ``l_info_flow`` still reads (with a
        ``DeprecationWarning``) as ``info_flow_x_accumulated``.

    Notes
    -----
    MI: Gaussian plug-in from sample covariances, bias-corrected (:mod:`._info`). B enters
    only through its mean ``Bbar`` (sufficient statistic), so ``I(Theta; B) = I(Theta; Bbar)``
    for the Gaussian-noise learner. ``sigma_x`` by route 1 (entropies, heat, flow) and
    ``sigma_x_kl`` by route 2 (KL of the fitted Gaussian conditional ``P(x_{t+1}|theta_{t+1})``
    from the model). Entropies use the Wishart bias of ``ln det`` of a sample covariance.
    """
    learner, d, S = _estimates_model(ens, learner, model_cov, model_std)
    params, samples = _check_estimates_ensemble(ens)
    Sinv = np.linalg.inv(S)
    ts = _estimates_times(ens, t, d)
    th = params.reshape(ens.n_total, params.shape[1], -1)
    xs = samples.reshape(ens.n_total, samples.shape[1], -1)  # xs[:, j] = X_{j+1}
    bbar = np.asarray(ens.dataset_mean, dtype=float).reshape(ens.n_datasets, -1)[ens.data_of]
    tmax = int(ts.max())
    names = ["m_info", "l_info", "l_info_functional", "info_flow_x_accumulated", "i_x_theta",
             "info_flow_theta", "info_flow_x", "sigma_x", "sigma_x_kl", "entropy_theta",
             "entropy_theta_given_b", "work", "heat", "heat_theta", "kl", "sq_dev_bbar"]
    have = {"work": ens.work, "heat": ens.heat, "heat_theta": ens.heat_theta, "kl": ens.kl}
    wanted = set(ts.tolist())
    dsm = None
    if learner is not None and learner.sampling == "iid" and learner.dim == d:
        names += ["medium_entropy_theta", "info_flow_theta_given_b", "sigma_theta"]
        dsm = _medium_entropy_samples(learner, th, bbar, ts)

    def mi(a, b):
        a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        return _gaussian_mi(a2, b2)

    def stat(i):
        n = i.shape[0]
        B = bbar[i]
        flow_x = np.empty(tmax + 1)
        rows = {name: np.empty(ts.shape[0]) for name in names}
        per_t = {}
        for s in range(tmax + 1):
            T0, T1, X1, X2 = th[i, s], th[i, s + 1], xs[i, s], xs[i, s + 1]
            i_x1_t1 = mi(X1, T1)
            flow_x[s] = mi(X2, T1) - i_x1_t1
            if s in wanted:
                per_t[s] = (T0, T1, X1, X2, i_x1_t1)
        cum = np.concatenate([[0.0], np.cumsum(flow_x)])
        for j, s in enumerate(ts):
            T0, T1, X1, X2, i_x1_t1 = per_t[int(s)]
            rows["m_info"][j] = mi(T0, B)
            rows["l_info"][j] = mi(X1, B)
            rows["l_info_functional"][j] = rows["m_info"][j]
            rows["info_flow_x_accumulated"][j] = cum[s]
            rows["i_x_theta"][j] = mi(X1, T0)
            rows["info_flow_theta"][j] = i_x1_t1 - rows["i_x_theta"][j]
            rows["info_flow_x"][j] = flow_x[s]
            q = ens.heat[i, s] if ens.heat is not None else np.full(n, np.nan)
            rows["sigma_x"][j] = 0.5 * (_ld(_cov(X2)) - _ld(_cov(X1))) - q.mean() - flow_x[s]
            rows["sigma_x_kl"][j] = _sigma_x_kl(T1, X1, Sinv, d)
            two_pi_e = d * math.log(2 * math.pi * math.e)
            h_cond = _entropy_given_b(T0, B, d, two_pi_e)
            rows["entropy_theta"][j] = 0.5 * (two_pi_e + _ld(_cov(T0)) - wishart_logdet_bias(d, n))
            rows["entropy_theta_given_b"][j] = h_cond
            rows["sq_dev_bbar"][j] = ((T0 - B) ** 2).sum(axis=1).mean()
            if dsm is not None:
                # Theta's second law given B: conditional MIs as I(X; (Y, B)) - I(X; B)
                flow_b = mi(X1, np.hstack([T1, B])) - mi(X1, np.hstack([T0, B]))
                med = dsm[i, j].mean()
                rows["medium_entropy_theta"][j] = med
                rows["info_flow_theta_given_b"][j] = flow_b
                rows["sigma_theta"][j] = (0.5 * (_resid_ld(T1, B) - _resid_ld(T0, B)) + med
                                          - flow_b)
            for name, arr in have.items():
                rows[name][j] = arr[i, s].mean() if arr is not None else math.nan
        return np.stack([rows[name] for name in names])

    val, se = jackknife(stat, ens.n_total, groups=ens.data_of)
    scalar = np.ndim(t) == 0
    out = _Keys()
    for r, name in enumerate(names):
        v, e = (float(val[r, 0]), float(se[r, 0])) if scalar else (val[r], se[r])
        out[name] = Estimate(v, e, f"simulation:{name}", {"n": ens.n_total, "t": t})
    return out
