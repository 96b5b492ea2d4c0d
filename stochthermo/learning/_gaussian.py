"""The linear-Gaussian lagged learner: exact closed forms (SymPy) and simulation.

Data ``b_i ~ N(mu, s_d^2)``, model ``p(x | theta) = N(theta, s^2)``, Gaussian-noise SGD
``theta_{t+1} = (1 - k) theta_t + k (Bbar + xi_t)``, ``xi_t ~ N(0, s_d^2 / m)``, ``k = r / s^2``,
``theta_0 ~ N(mu_0, v_0)``, ``X_{t+1} ~ N(theta_t, s^2)``. Derivations: ``theory/learning.md``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

from .._validation import (
    choose_method,
    nonnegative_float,
    positive_float,
    positive_int,
)
from ..errors import ValidationError
from ..results import Estimate
from ._engine import LearningEnsemble, learn
from ._info import gaussian_mi_bias, gaussian_mi_value, jackknife
from ._ppm import GaussianMean

__all__ = ["GaussianLearner", "CLOSED_FORM_KEYS", "gaussian_learner_estimates"]

#: keys of :meth:`GaussianLearner.closed_form` (the issue's contract), then extras
CLOSED_FORM_KEYS = (
    "m_info", "l_info", "i_x_theta", "work", "heat", "info_flow_x", "info_flow_theta",
    "sigma_x", "entropy_theta", "entropy_theta_given_b",
)
EXTRA_KEYS = ("sigma_x_kl", "l_info_functional", "l_info_flow", "heat_theta", "kl",
              "mean_theta", "var_theta", "var_theta_given_b")

_ARGS = ("t", "k", "v0", "sd", "N", "m", "s", "mu", "mu0")


@functools.lru_cache(maxsize=1)
def _compiled():
    """Derive every closed form once with SymPy and compile it with ``lambdify``.

    Returns ``(dict name -> expression, dict name -> function of _ARGS)``.
    """
    import sympy as sp

    t = sp.Symbol("t", integer=True, nonnegative=True)
    k, v0, sd, N, m, s = sp.symbols("k v0 sd N m s", positive=True)
    mu, mu0 = sp.symbols("mu mu0", real=True)
    a = 1 - k

    def moments(tt):
        """Solution of the mean/variance recursions (checked in theory/check_learning.py)."""
        c = 1 - a**tt
        g = (1 - a ** (2 * tt)) / (1 - a**2)
        V = a ** (2 * tt) * v0 + k**2 * sd**2 * g / m  # Var(theta_t | B)
        e = c * sd**2 / N  # Cov(theta_t, Bbar)
        W = V + c * e  # Var theta_t
        M = a**tt * mu0 + c * mu  # E theta_t
        return V, W, e, M

    V, W, e, M = moments(t)
    vb = sd**2 / N
    # joint Gaussian of (Bbar, theta_t, xi_t, z_1, z_2): linear maps to
    # (Bbar, theta_t, X_{t+1}, theta_{t+1}, X_{t+2}); covariance by L Sigma L^T
    S0 = sp.Matrix([[vb, e, 0, 0, 0], [e, W, 0, 0, 0], [0, 0, sd**2 / m, 0, 0],
                    [0, 0, 0, s**2, 0], [0, 0, 0, 0, s**2]])
    L = sp.Matrix([
        [1, 0, 0, 0, 0],        # Bbar
        [0, 1, 0, 0, 0],        # theta_t
        [0, 1, 0, 1, 0],        # X_{t+1} = theta_t + z1
        [k, a, k, 0, 0],        # theta_{t+1}
        [k, a, k, 0, 1],        # X_{t+2} = theta_{t+1} + z2
    ])
    C = L * S0 * L.T
    mean = L * sp.Matrix([mu, M, 0, 0, 0])
    iB, iT, iX, iT1, iX2 = range(5)

    def mi(i, j):
        return sp.log(C[i, i] * C[j, j] / (C[i, i] * C[j, j] - C[i, j] ** 2)) / 2

    def ent(var):
        return sp.log(2 * sp.pi * sp.E * var) / 2

    # work: <w_t> = E KL(N(theta_t, s^2) || N(theta_{t+1}, s^2)) = E (theta_{t+1}-theta_t)^2/(2s^2)
    d_mean = mean[iT1] - mean[iT]
    d_var = C[iT1, iT1] + C[iT, iT] - 2 * C[iT, iT1]
    work = (d_mean**2 + d_var) / (2 * s**2)
    # heat: <q_t> = E[(X_{t+2}-theta_{t+1})^2 - (X_{t+1}-theta_{t+1})^2] / (2 s^2)
    def msq(i, j):
        return (mean[i] - mean[j]) ** 2 + C[i, i] + C[j, j] - 2 * C[i, j]

    heat = (msq(iX2, iT1) - msq(iX, iT1)) / (2 * s**2)
    flow_theta = mi(iX, iT1) - mi(iX, iT)
    flow_x = mi(iX2, iT1) - mi(iX, iT1)
    sigma_x = ent(C[iX2, iX2]) - ent(C[iX, iX]) - heat - flow_x
    # route 2: E KL(P(x_{t+1} | theta_{t+1}) || N(theta_{t+1}, s^2)), P Gaussian with
    # conditional mean A + Bc theta_{t+1} and variance v1
    Bc = C[iX, iT1] / C[iT1, iT1]
    v1 = C[iX, iX] - C[iX, iT1] ** 2 / C[iT1, iT1]
    # E (A + Bc th - th)^2 with A + Bc th - th = mean[iX] - mean[iT1] + (Bc - 1)(th - mean[iT1])
    off2 = (mean[iX] - mean[iT1]) ** 2 + (Bc - 1) ** 2 * C[iT1, iT1]
    sigma_x_kl = (v1 / s**2 + off2 / s**2 - 1 - sp.log(v1 / s**2)) / 2
    # parameter heat, midpoint rule, exact for the quadratic U_B:
    # q_Theta = -[(theta_{t+1}-Bbar)^2 - (theta_t-Bbar)^2] / (2 s^2)
    heat_theta = -(msq(iT1, iB) - msq(iT, iB)) / (2 * s**2)
    exprs = {
        "m_info": mi(iT, iB),
        "l_info": mi(iX, iB),
        "l_info_functional": mi(iT, iB),
        "i_x_theta": mi(iX, iT),
        "work": work,
        "kl": work,
        "heat": heat,
        "heat_theta": heat_theta,
        "info_flow_x": flow_x,
        "info_flow_theta": flow_theta,
        "sigma_x": sigma_x,
        "sigma_x_kl": sigma_x_kl,
        "entropy_theta": ent(W),
        "entropy_theta_given_b": ent(V),
        "mean_theta": M,
        "var_theta": W,
        "var_theta_given_b": V,
    }
    syms = (t, k, v0, sd, N, m, s, mu, mu0)
    funcs = {name: sp.lambdify(syms, ex, modules="numpy", cse=True)
             for name, ex in exprs.items()}
    return exprs, funcs


@dataclass(frozen=True)
class GaussianLearner:
    r"""The exactly solvable lagged learner of ``theory/learning.md`` (theory.md section 5).

    Parameters
    ----------
    mu, data_std : float
        Target ``N(mu, data_std^2)`` of the training data.
    n_data : int
        Training-set size N.
    batch_size : int
        Mini-batch size m.
    model_std : float
        Model width s of ``p(x | theta) = N(theta, s^2)``.
    lr : float
        Learning rate r; ``k = r / s^2`` must lie in (0, 2).
    init_mean, init_var : float
        ``theta_0 ~ N(init_mean, init_var)``.

    Notes
    -----
    With ``a = 1 - k``, ``c_t = 1 - a^t``, ``g_t = (1 - a^{2t}) / (1 - a^2)``:
    ``V_t = a^{2t} v_0 + k^2 s_d^2 g_t / m``, ``Var Theta_t = V_t + c_t^2 s_d^2 / N``,
    ``I_M = 1/2 ln(1 + c_t^2 s_d^2 / (N V_t))``,
    ``I_L = 1/2 ln(1 + c_t^2 s_d^2 / (N (V_t + s^2)))``.
    Every other quantity follows from the Gaussian joint law of
    ``(Bbar, Theta_t, X_{t+1}, Theta_{t+1}, X_{t+2})``.

    Examples
    --------
    >>> g = GaussianLearner(mu=1.0, data_std=1.0, n_data=10, batch_size=2, model_std=1.0,
    ...                     lr=0.1, init_mean=0.0, init_var=1.0)
    >>> cf = g.closed_form([1, 10])
    >>> bool(np.all(cf["l_info"] <= cf["m_info"]))
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

    def __post_init__(self):
        object.__setattr__(self, "mu", float(self.mu))
        object.__setattr__(self, "init_mean", float(self.init_mean))
        object.__setattr__(self, "data_std", positive_float("data_std", self.data_std))
        object.__setattr__(self, "n_data", positive_int("n_data", self.n_data))
        object.__setattr__(self, "batch_size", positive_int("batch_size", self.batch_size))
        object.__setattr__(self, "model_std", positive_float("model_std", self.model_std))
        object.__setattr__(self, "lr", positive_float("lr", self.lr))
        object.__setattr__(self, "init_var", nonnegative_float("init_var", self.init_var))
        if not self.k < 2:
            raise ValidationError(
                f"lr={self.lr!r} gives k = lr / model_std^2 = {self.k:.4g} >= 2: SGD diverges; "
                f"use lr < {2 * self.model_std**2:.4g}"
            )

    @property
    def k(self) -> float:
        """``k = lr / model_std^2``, the per-step contraction."""
        return self.lr / self.model_std**2

    def _args(self):
        return (self.k, self.init_var, self.data_std, self.n_data, self.batch_size,
                self.model_std, self.mu, self.init_mean)

    @staticmethod
    def expressions() -> dict:
        """The SymPy expressions behind :meth:`closed_form` (in ``t k v0 sd N m s mu mu0``)."""
        return dict(_compiled()[0])

    def closed_form(self, t) -> Mapping:
        """Exact values at step(s) ``t`` (int or array of ints >= 0).

        Returns a mapping with the keys :data:`CLOSED_FORM_KEYS` (``l_info`` is the ``mi``
        reading) plus ``sigma_x_kl`` (second route to ``sigma_x``), ``l_info_functional``,
        ``l_info_flow`` (``sum_{s<t} info_flow_x(s)``), ``heat_theta``, ``kl`` and the
        moments ``mean_theta``, ``var_theta``, ``var_theta_given_b``. Step-indexed entries
        (work, heat, flows, sigma_x, kl, heat_theta) refer to the move ``t -> t+1``.
        """
        tt = np.asarray(t)
        if tt.dtype.kind not in "iu":
            if tt.dtype.kind == "f" and np.all(tt == np.round(tt)):
                tt = tt.astype(np.int64)
            else:
                raise ValidationError(f"t={t!r} must be an int or an array of ints")
        if np.any(tt < 0):
            raise ValidationError(f"t={t!r} must be >= 0")
        funcs = _compiled()[1]
        tf = tt.astype(np.float64)
        args = self._args()
        with np.errstate(divide="ignore", invalid="ignore"):
            out = {name: np.asarray(f(tf, *args) + 0.0 * tf) for name, f in funcs.items()}
            tmax = int(tt.max(initial=0))
            flows = np.asarray(funcs["info_flow_x"](np.arange(tmax, dtype=float), *args))
            flows = flows + np.zeros(tmax)
        # theta_0 does not depend on B: the information about B is 0 at t = 0 (also when
        # init_var = 0, where the formula reads 0/0)
        for name in ("m_info", "l_info", "l_info_functional"):
            out[name] = np.where(tt == 0, 0.0, out[name])
        cum = np.concatenate([[0.0], np.cumsum(flows)])
        out["l_info_flow"] = cum[tt]
        if tt.ndim == 0:
            out = {k: float(v) for k, v in out.items()}
        return out

    def model(self) -> GaussianMean:
        """The PPM ``N(theta, s^2)`` with the learner's initialisation."""
        return GaussianMean(dim=1, std=self.model_std, init_mean=self.init_mean,
                            init_std=math.sqrt(self.init_var))

    def draw_data(self, rng) -> np.ndarray:
        """One training set of ``n_data`` draws from ``N(mu, data_std^2)``."""
        return self.mu + self.data_std * rng.standard_normal(self.n_data)

    def simulate(self, n_steps, *, n_datasets=2000, n_trials=1, method="gaussian", seed=None,
                 record=("params", "samples", "work", "heat", "energy", "kl", "heat_theta")):
        """Simulate the learner: a :class:`LearningEnsemble` over training sets and seeds.

        Parameters
        ----------
        n_steps : int
        n_datasets, n_trials : int
            Training sets drawn from the target, and trials per training set.
        method : {"gaussian", "minibatch", "shuffle"}
            ``"gaussian"``: the exact model (noise of variance ``s_d^2 / m`` from the
            population); ``"minibatch"``: true mini-batch SGD with replacement;
            ``"shuffle"``: without replacement (epoch shuffling).
        seed : int, Generator or None

        Notes
        -----
        True mini-batch SGD has noise variance ``S_B^2 / m`` (``S_B^2`` the training set's own
        variance, mean ``(N-1)/N s_d^2``) and non-Gaussian noise that depends on B, so it
        agrees with the closed forms only up to O(1/N) (``benchmarks/RESULTS_learning.md``).
        """
        table = {"gaussian": "gaussian", "minibatch": "replacement", "shuffle": "shuffle"}
        engine_method = choose_method("method", method, table)
        kw = {}
        if engine_method == "gaussian":
            kw["noise_cov"] = self.data_std**2 / self.model_std**4
        return learn(self.model(), self.draw_data, lr=self.lr, batch_size=self.batch_size,
                     n_steps=n_steps, n_trials=n_trials, n_datasets=n_datasets, seed=seed,
                     method=engine_method, init="own", record=record, **kw)

    def estimate(self, ensemble, t) -> dict:
        """Estimates (with standard errors) of the closed-form quantities from an ensemble."""
        return gaussian_learner_estimates(ensemble, t, model_std=self.model_std)


def _entropy_bias(n_dof: int) -> float:
    """``E ln(s^2) - ln(sigma^2)`` for a Gaussian sample variance with ``n_dof`` d.o.f."""
    return float(digamma(n_dof / 2.0) + math.log(2.0 / n_dof))


def gaussian_learner_estimates(ens: LearningEnsemble, t, *, model_std=None) -> dict:
    """Estimate every quantity of :meth:`GaussianLearner.closed_form` from a simulation.

    Parameters
    ----------
    ens : LearningEnsemble
        From :meth:`GaussianLearner.simulate` (one-dimensional :class:`GaussianMean`,
        every step recorded, with ``params`` and ``samples``).
    t : int or array of ints
        Steps, ``0 <= t < n_steps``.

    Returns
    -------
    dict
        name -> :class:`Estimate` (values of shape ``t``), standard errors from a
        delete-a-group jackknife over training sets.

    Notes
    -----
    MI: Gaussian plug-in from sample covariances, bias-corrected (:mod:`._info`). B enters
    only through its mean ``Bbar`` (sufficient statistic), so ``I(Theta; B) = I(Theta; Bbar)``
    for the Gaussian-noise learner. ``sigma_x`` by route 1 (entropies, heat, flow) and
    ``sigma_x_kl`` by route 2 (KL of the fitted Gaussian conditional ``P(x_{t+1}|theta_{t+1})``
    from the model).
    """
    if not isinstance(ens.model, GaussianMean) or ens.model.dim != 1:
        raise ValidationError("gaussian_learner_estimates needs an ensemble of GaussianMean(dim=1)")
    if ens.params is None or ens.samples is None or not np.array_equal(
        ens.steps, np.arange(ens.steps[-1] + 1)
    ):
        raise ValidationError(
            "the ensemble must record 'params' and 'samples' at every step (record_every=1)"
        )
    s2 = (model_std or ens.model.std) ** 2
    ts = np.atleast_1d(np.asarray(t, dtype=np.int64))
    if ts.min() < 0 or ts.max() >= ens.n_steps:
        raise ValidationError(f"t={t!r} must lie in 0..{ens.n_steps - 1}")
    th = ens.params[:, :, 0]
    xs = ens.samples[:, :, 0]  # xs[:, j] = X_{j+1}
    bbar = ens.dataset_mean[ens.data_of, 0]
    tmax = int(ts.max())
    names = ["m_info", "l_info", "l_info_functional", "l_info_flow", "i_x_theta",
             "info_flow_theta", "info_flow_x", "sigma_x", "sigma_x_kl", "entropy_theta",
             "entropy_theta_given_b", "work", "heat", "heat_theta", "kl"]
    have = {"work": ens.work, "heat": ens.heat, "heat_theta": ens.heat_theta, "kl": ens.kl}

    def mi(a, b):
        return gaussian_mi_value(a, b) - gaussian_mi_bias(a.shape[0], 1, 1)

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
            if s in set(ts.tolist()):
                per_t[s] = (T0, T1, X1, X2, i_x1_t1)
        cum = np.concatenate([[0.0], np.cumsum(flow_x)])
        for j, s in enumerate(ts):
            T0, T1, X1, X2, i_x1_t1 = per_t[int(s)]
            rows["m_info"][j] = mi(T0, B)
            rows["l_info"][j] = mi(X1, B)
            rows["l_info_functional"][j] = rows["m_info"][j]
            rows["l_info_flow"][j] = cum[s]
            rows["i_x_theta"][j] = mi(X1, T0)
            rows["info_flow_theta"][j] = i_x1_t1 - rows["i_x_theta"][j]
            rows["info_flow_x"][j] = flow_x[s]
            q = ens.heat[i, s] if ens.heat is not None else np.full(n, np.nan)
            vx1, vx2 = X1.var(ddof=1), X2.var(ddof=1)
            rows["sigma_x"][j] = 0.5 * math.log(vx2 / vx1) - q.mean() - flow_x[s]
            # route 2: regression of X_{t+1} on theta_{t+1}
            cT = np.cov(X1, T1)
            slope = cT[0, 1] / cT[1, 1]
            fit = X1.mean() + slope * (T1 - T1.mean())
            v1 = ((X1 - fit) ** 2).mean()
            off2 = ((fit - T1) ** 2).mean()
            rows["sigma_x_kl"][j] = 0.5 * (v1 / s2 + off2 / s2 - 1 - math.log(v1 / s2))
            vt = T0.var(ddof=1)
            if n > 2 and B.var() > 0:
                cb = np.cov(T0, B)
                resid = T0 - cb[0, 1] / cb[1, 1] * (B - B.mean()) - T0.mean()
                vres = (resid**2).sum() / (n - 2)
                h_cond = 0.5 * (math.log(2 * math.pi * math.e * vres) - _entropy_bias(n - 2))
            else:
                h_cond = math.nan
            rows["entropy_theta"][j] = 0.5 * (math.log(2 * math.pi * math.e * vt)
                                               - _entropy_bias(n - 1))
            rows["entropy_theta_given_b"][j] = h_cond
            for name, arr in have.items():
                rows[name][j] = arr[i, s].mean() if arr is not None else math.nan
        return np.stack([rows[name] for name in names])

    val, se = jackknife(stat, ens.n_total, groups=ens.data_of)
    scalar = np.ndim(t) == 0
    out = {}
    for r, name in enumerate(names):
        v, e = (float(val[r, 0]), float(se[r, 0])) if scalar else (val[r], se[r])
        out[name] = Estimate(v, e, f"simulation:{name}", {"n": ens.n_total, "t": t})
    return out
