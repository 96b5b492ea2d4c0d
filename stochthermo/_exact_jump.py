r"""Exact thermodynamics of Markov jump processes (numeric, dense, any size up to 4096 states).

The public entry points are the functions of :mod:`stochthermo.exact` of the same names, which
dispatch here when given a :class:`~stochthermo.MarkovJump` or :class:`~stochthermo.BipartiteJump`.
Formulas and labels ``[JP-*]``: ``theory/jump.md``. Conventions: ``W[i, j]`` is the rate of
``j -> i``; the net current on the edge ``{i, j}`` is :math:`J_{ij} = W_{ij} p_j - W_{ji} p_i`;
k_B = 1, nats.

Every quantity accepts ``p=``: a distribution of shape ``(n,)`` (or ``(nx, ny)`` for a bipartite
model) at which to evaluate it, or a stack ``(n_t, n)`` such as the output of
:func:`transient_distribution`, giving one value per row. Default: the stationary distribution.
"""

from __future__ import annotations

import weakref

import numpy as np

from ._validation import as_float_array, short_repr
from .errors import ModelError, ShapeError, ValidationError
from .models.jump import BipartiteJump, MarkovJump

__all__ = [
    "stationary_distribution",
    "transient_distribution",
    "probability_currents",
    "entropy_production_rate",
    "environment_entropy_flows",
    "shannon_entropy_rates",
    "information_flows",
    "subsystem_entropy_production",
    "mutual_information",
    "mutual_information_rate",
    "learning_efficiency",
    "detailed_balance",
    "summary",
]

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _model(model, what="model") -> MarkovJump:
    if not isinstance(model, MarkovJump):
        raise ValidationError(
            f"{what}={short_repr(model)} is not a jump model; pass a MarkovJump or BipartiteJump"
        )
    return model


def _bipartite(model, what: str) -> BipartiteJump:
    _model(model)
    if not isinstance(model, BipartiteJump):
        raise ModelError(
            f"{what} needs a bipartite process (two subsystems x, y that never jump together); "
            "build the model with BipartiteJump(wx, wy)"
        )
    return model


def _gth(W: np.ndarray) -> np.ndarray:
    """Stationary distribution by Grassmann-Taksar-Heyman state reduction [JP-stat].

    Gaussian elimination on the censored chains with every pivot formed as a sum of positive
    rates (never a difference), so each probability keeps full relative accuracy, whatever the
    spread of the rates.
    """
    R = np.array(W.T, dtype=np.float64)  # R[i, j]: rate i -> j
    n = R.shape[0]
    np.fill_diagonal(R, 0.0)
    s = np.empty(n)
    for k in range(n - 1, 0, -1):
        sk = R[k, :k].sum()
        if not sk > 0.0:
            raise ModelError(
                f"state {k} cannot leave the states 0..{k} once they are censored: the chain is "
                "not irreducible"
            )
        s[k] = sk
        R[:k, :k] += np.outer(R[:k, k], R[k, :k] / sk)
    pi = np.empty(n)
    pi[0] = 1.0
    for k in range(1, n):
        pi[k] = pi[:k] @ R[:k, k] / s[k]  # finite: pi[:k] <= 1 and rates lie in [1e-100, 1e100]
        top = pi[: k + 1].max()
        if top > 1.0:  # keep the running values finite; only their ratios matter
            with np.errstate(under="ignore"):
                pi[: k + 1] /= top
    return pi / pi.sum()


def _stationary(model: MarkovJump) -> np.ndarray:
    store = _CACHE.setdefault(model, {})
    if "p" not in store:
        p = _gth(model.W)
        if not np.all(p > 0):
            raise ModelError(
                f"a stationary probability underflows double precision (smallest "
                f"{p.min():.3g}); the rates make some states more than 1e308 times less likely "
                "than others: remove those states or bring the rates closer together"
            )
        p.setflags(write=False)
        store["p"] = p
    return store["p"]


def stationary_distribution(model, *, grid: bool = False) -> np.ndarray:
    r"""Stationary distribution :math:`W p = 0`, :math:`\sum_i p_i = 1` [JP-stat].

    Solved by Grassmann-Taksar-Heyman state reduction (subtraction-free elimination), which
    keeps every probability to relative machine precision for rates spanning many decades.

    Parameters
    ----------
    model : MarkovJump or BipartiteJump
    grid : bool, optional
        For a bipartite model return ``p[x, y]`` (shape ``(nx, ny)``) instead of the joint
        vector (shape ``(n,)``, index ``x * ny + y``).
    """
    p = _stationary(_model(model)).copy()
    if grid:
        m = _bipartite(model, "grid=True")
        return p.reshape(m.nx, m.ny)
    return p


def transient_distribution(model, t, *, p0) -> np.ndarray:
    r"""Distribution at times ``t`` from ``p0``: :math:`p(t) = e^{W t} p_0` [JP-transient].

    Parameters
    ----------
    model : MarkovJump or BipartiteJump
    t : float or array_like, shape (n_t,)
        Times (>= 0).
    p0 : array_like, shape (n,) or (nx, ny), or int
        Initial distribution, or a state index for a deterministic start.

    Returns
    -------
    numpy.ndarray, shape (n,) for scalar ``t``, else (n_t, n)
        Computed with ``scipy.linalg.expm``; tiny negative round-off is clipped and each row
        renormalised.
    """
    import scipy.linalg as sla

    m = _model(model)
    times = as_float_array("t", t, ndim=(0, 1))
    if np.any(times < 0):
        raise ValidationError(f"t={short_repr(t)} must be >= 0")
    if isinstance(p0, (int, np.integer)) and not isinstance(p0, bool):
        if not 0 <= int(p0) < m.n_states:
            raise ValidationError(f"p0={p0!r} is not a state index in 0..{m.n_states - 1}")
        start = np.zeros(m.n_states)
        start[int(p0)] = 1.0
    else:
        start = _as_distribution(m, p0, "p0", allow_stack=False)
    G = m.generator
    out = np.empty((times.size, m.n_states))
    for k, tk in enumerate(np.atleast_1d(times)):
        q = sla.expm(G * tk) @ start
        q = np.clip(q, 0.0, None)
        out[k] = q / q.sum()
    return out[0] if times.ndim == 0 else out


def _as_distribution(m: MarkovJump, p, name="p", allow_stack=True) -> np.ndarray:
    arr = as_float_array(name, p, ndim=(1, 2, 3) if allow_stack else (1, 2))
    n = m.n_states
    grid = isinstance(m, BipartiteJump) and arr.ndim >= 2 and arr.shape[-2:] == (m.nx, m.ny)
    if grid:
        arr = arr.reshape(arr.shape[:-2] + (n,))
    if arr.shape[-1] != n or arr.ndim > (2 if allow_stack else 1):
        shapes = f"({n},)" + (f" or ({m.nx}, {m.ny})" if isinstance(m, BipartiteJump) else "")
        raise ShapeError(
            f"{name} must have shape {shapes}" + (f", or (n_t, {n}) for several times"
                                                  if allow_stack else "")
            + f", got {arr.shape}"
        )
    if np.any(arr < 0):
        raise ValidationError(f"{name} has negative entries ({short_repr(arr)}); it must be a "
                              "probability distribution")
    tot = arr.sum(axis=-1, keepdims=True)
    if np.any(np.abs(tot - 1.0) > 1e-8):
        raise ValidationError(
            f"{name} must sum to 1, but it sums to {np.ravel(tot)[0]!r}; normalise it first"
        )
    return arr / tot


def _resolve(model, p):
    """(model, distributions (n_t, n), stacked?) for ``p`` (None: stationary)."""
    m = _model(model)
    if p is None:
        return m, _stationary(m)[None, :], False
    arr = _as_distribution(m, p)
    stacked = arr.ndim == 2
    return m, np.atleast_2d(arr), stacked


def _resolve_bipartite(model, p, what: str) -> tuple[BipartiteJump, np.ndarray, bool]:
    """:func:`_resolve` for a quantity ``what`` that needs a :class:`BipartiteJump`."""
    m = _bipartite(model, what)
    _, P, stacked = _resolve(m, p)
    return m, P, stacked


def _edges(m: MarkovJump):
    """Undirected edges ``i < j`` with a positive rate: (i, j, ln W_ij/W_ji, reservoir)."""
    store = _CACHE.setdefault(m, {})
    if "edges" not in store:
        W = m.W
        i, j = np.nonzero(np.triu(W > 0, k=1))
        lnw = np.log(W[i, j]) - np.log(W[j, i])
        store["edges"] = (i, j, lnw, m.reservoirs[i, j])
    return store["edges"]


def _log(x):
    with np.errstate(divide="ignore"):
        return np.log(x)


def _flux_terms(m, P):
    """Per-edge (a, b, J) for every row of ``P``: a = W_ij p_j, b = W_ji p_i, J = a - b."""
    i, j, _, _ = _edges(m)
    a = m.W[i, j] * P[:, j]
    b = m.W[j, i] * P[:, i]
    return a, b, a - b


def _weighted(J, L):
    """Sum over edges of ``J * L`` with ``0 * inf = 0`` (no current, no contribution)."""
    with np.errstate(invalid="ignore"):
        t = J * L
    t = np.where(J == 0.0, 0.0, t)
    return t.sum(axis=-1)


def _finish(values, stacked):
    values = np.asarray(values, dtype=np.float64)
    if stacked:
        return values
    out = values[0]
    return float(out) if out.ndim == 0 else out


def probability_currents(model, *, p=None) -> np.ndarray:
    r"""Net probability currents :math:`J_{ij} = W_{ij} p_j - W_{ji} p_i` (``j -> i``) [JP-current].

    Returns
    -------
    numpy.ndarray, shape (n, n) (or (n_t, n, n) for a stack of distributions)
        Antisymmetric; :math:`\dot p_i = \sum_j J_{ij}` (zero in the steady state).
    """
    m, P, stacked = _resolve(model, p)
    W = m.W
    out = W[None] * P[:, None, :] - W.T[None] * P[:, :, None]
    return out if stacked else out[0]


def entropy_production_rate(model, *, p=None):
    r"""Total entropy production rate (nats per unit time) [JP-ep].

    :math:`\sigma = \sum_{i<j} J_{ij} \ln\frac{W_{ij} p_j}{W_{ji} p_i} \ge 0`, equal to
    :math:`dS/dt + \sum_r \dot S^{\rm env}_r` (Schnakenberg).
    """
    m, P, stacked = _resolve(model, p)
    a, b, J = _flux_terms(m, P)
    with np.errstate(divide="ignore"):
        L = np.log(a) - np.log(b)
    return _finish(_weighted(J, L), stacked)


def environment_entropy_flows(model, *, p=None):
    r"""Entropy flow into each reservoir per unit time [JP-env].

    :math:`\dot S^{\rm env}_r = \sum_{i<j,\ r(i,j) = r} J_{ij} \ln(W_{ij}/W_{ji})`. For a
    :class:`~stochthermo.BipartiteJump` the reservoirs are the x-jumps (0) and the y-jumps (1):
    the result is :math:`(\dot S^X_{\rm env}, \dot S^Y_{\rm env})`.

    Returns
    -------
    numpy.ndarray, shape (n_reservoirs,) (or (n_t, n_reservoirs))
    """
    m, P, stacked = _resolve(model, p)
    _, _, J = _flux_terms(m, P)
    _, _, lnw, res = _edges(m)
    out = np.zeros((P.shape[0], m.n_reservoirs))
    for r in range(m.n_reservoirs):
        sel = res == r
        out[:, r] = (J[:, sel] * lnw[sel]).sum(axis=-1)
    return out if stacked else out[0]


def _marginal_terms(m: BipartiteJump, P):
    """Per edge: is_x, and the logs needed by the bipartite quantities."""
    i, j, _, res = _edges(m)
    Pg = P.reshape(P.shape[0], m.nx, m.ny)
    lpx = _log(Pg.sum(axis=2))
    lpy = _log(Pg.sum(axis=1))
    lp = _log(P)
    xi, yi = np.divmod(i, m.ny)
    xj, yj = np.divmod(j, m.ny)
    is_x = res == 0
    # marginal of the moving coordinate: x for x-edges, y for y-edges
    lm_i = np.where(is_x, lpx[:, xi], lpy[:, yi])
    lm_j = np.where(is_x, lpx[:, xj], lpy[:, yj])
    return is_x, lp[:, i], lp[:, j], lm_i, lm_j


def shannon_entropy_rates(model, *, p=None):
    r"""Rate of change of the Shannon entropy [JP-shannon].

    General model: :math:`dS/dt = \sum_{i<j} J_{ij} \ln(p_j / p_i)` (a float). Bipartite model:
    the marginal rates :math:`(dS_X/dt, dS_Y/dt)`, where only x-jumps change :math:`S_X`:
    :math:`dS_X/dt = \sum_{x\text{-edges}} J_{ij} \ln(p_X(x_j) / p_X(x_i))`.
    """
    m, P, stacked = _resolve(model, p)
    _, _, J = _flux_terms(m, P)
    if not isinstance(m, BipartiteJump):
        i, j, _, _ = _edges(m)
        lp = _log(P)
        return _finish(_weighted(J, lp[:, j] - lp[:, i]), stacked)
    is_x, _, _, lm_i, lm_j = _marginal_terms(m, P)
    L = lm_j - lm_i
    out = np.stack([_weighted(J * is_x, L), _weighted(J * ~is_x, L)], axis=-1)
    return out if stacked else out[0]


def information_flows(model, *, p=None):
    r"""Information flows :math:`(\dot I^X, \dot I^Y)` (nats per unit time) [JP-info].

    :math:`\dot I^X = \sum_y \sum_{x<x'} J^y_{xx'} \ln\frac{p(y|x)}{p(y|x')}` over the x-jumps
    (net current :math:`J^y_{xx'}` from ``x'`` to ``x`` at fixed ``y``), and the same for Y;
    :math:`\dot I^X + \dot I^Y = dI/dt`, zero in a steady state. A positive
    :math:`\dot I^X` means the x-jumps increase what X knows about Y (X learns).

    Returns
    -------
    numpy.ndarray, shape (2,) (or (n_t, 2))
    """
    m, P, stacked = _resolve_bipartite(model, p, "information_flows")
    _, _, J = _flux_terms(m, P)
    is_x, lp_i, lp_j, lm_i, lm_j = _marginal_terms(m, P)
    L = (lp_i - lm_i) - (lp_j - lm_j)
    out = np.stack([_weighted(J * is_x, L), _weighted(J * ~is_x, L)], axis=-1)
    return out if stacked else out[0]


def subsystem_entropy_production(model, *, p=None):
    r"""Subsystem entropy production :math:`(\sigma_X, \sigma_Y)`, each >= 0 [JP-sub].

    :math:`\sigma_X = \sum_{x\text{-edges}} J_{ij} \ln\frac{W_{ij} p_j}{W_{ji} p_i}
    = dS_X/dt + \dot S^X_{\rm env} - \dot I^X`; :math:`\sigma_X + \sigma_Y = \sigma`.

    Returns
    -------
    numpy.ndarray, shape (2,) (or (n_t, 2))
    """
    m, P, stacked = _resolve_bipartite(model, p, "subsystem_entropy_production")
    a, b, J = _flux_terms(m, P)
    _, _, _, res = _edges(m)
    with np.errstate(divide="ignore"):
        L = np.log(a) - np.log(b)
    is_x = res == 0
    out = np.stack([_weighted(J * is_x, L), _weighted(J * ~is_x, L)], axis=-1)
    return out if stacked else out[0]


def mutual_information(model, *, p=None):
    r"""Mutual information (nats) [JP-mi].

    :math:`I(X;Y) = \sum_{x,y} p(x,y) \ln\frac{p(x,y)}{p_X(x)p_Y(y)}`.
    """
    m, P, stacked = _resolve_bipartite(model, p, "mutual_information")
    Pg = P.reshape(P.shape[0], m.nx, m.ny)
    prod = Pg.sum(axis=2)[:, :, None] * Pg.sum(axis=1)[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = Pg * (np.log(Pg) - np.log(prod))
    t = np.where(Pg > 0, t, 0.0)
    return _finish(t.sum(axis=(1, 2)), stacked)


def mutual_information_rate(model, *, p=None):
    r"""Time derivative of the mutual information [JP-info].

    :math:`dI/dt = \sum_i \dot p_i \ln\frac{p_i}{p_X(x_i) p_Y(y_i)}` with :math:`\dot p = W p`.
    """
    m, P, stacked = _resolve_bipartite(model, p, "mutual_information_rate")
    pdot = P @ m.generator.T
    Pg = P.reshape(P.shape[0], m.nx, m.ny)
    L = _log(Pg) - _log(Pg.sum(axis=2)[:, :, None] * Pg.sum(axis=1)[:, None, :])
    return _finish(_weighted(pdot, L.reshape(P.shape)), stacked)


def learning_efficiency(model, *, p=None, learner: str = "x"):
    r"""Learning efficiency :math:`\eta_X = \dot I^X / \dot S^X_{\rm env}` [JP-eff].

    In a steady state :math:`\sigma_X = \dot S^X_{\rm env} - \dot I^X \ge 0`, so
    :math:`\eta_X \le 1` whenever the learner dissipates (:math:`\dot S^X_{\rm env} > 0`).

    Parameters
    ----------
    learner : {'x', 'y'}
        The subsystem that learns (default ``'x'``, as in the contract). For
        :meth:`BipartiteJump.sensor` the sensor is ``x``.

    Returns
    -------
    float (or numpy.ndarray, shape (n_t,))
        ``nan`` where the learner's entropy flow is zero (e.g. at equilibrium).
    """
    if learner not in ("x", "y"):
        raise ValidationError(f"learner={learner!r} must be 'x' or 'y'")
    k = 0 if learner == "x" else 1
    m, P, stacked = _resolve_bipartite(model, p, "learning_efficiency")
    flows = information_flows(m, p=P)
    env = environment_entropy_flows(m, p=P)[:, k]
    safe = np.where(env != 0.0, env, 1.0)
    eta = np.where(env != 0.0, flows[:, k] / safe, np.nan)
    return _finish(eta, stacked)


def detailed_balance(model, *, rtol: float = 1e-10):
    r"""Whether the stationary currents vanish [JP-db].

    Returns ``(holds, violation)`` with ``violation = max |J_ij| / max (W_ij p_j)``;
    :func:`stochthermo.exact.detailed_balance` wraps them in its ``DetailedBalance``.
    """
    m = _model(model)
    p = _stationary(m)
    a, b, J = _flux_terms(m, p[None])
    scale = max(float(np.max(a, initial=0.0)), np.finfo(float).tiny)
    viol = float(np.max(np.abs(J), initial=0.0) / scale)
    return bool(viol <= rtol), viol


def summary(model) -> dict:
    """Every steady-state quantity of a jump model in one dictionary."""
    m = _model(model)
    out = {
        "stationary_distribution": stationary_distribution(m),
        "detailed_balance": detailed_balance(m),
        "entropy_production_rate": entropy_production_rate(m),
        "environment_entropy_flows": environment_entropy_flows(m),
    }
    if isinstance(m, BipartiteJump):
        out["information_flows"] = information_flows(m)
        out["subsystem_entropy_production"] = subsystem_entropy_production(m)
        out["mutual_information"] = mutual_information(m)
        out["learning_efficiency"] = learning_efficiency(m)
    return out


def dispatch(name: str, model, p, **langevin_options):
    """Run ``name`` for a jump model on behalf of :mod:`stochthermo.exact`.

    ``langevin_options`` are the Langevin-only keywords the caller received; any that is set is
    refused, as is ``p=`` with a model that is not a jump process.
    """
    if not isinstance(model, MarkovJump):
        raise ValidationError(
            f"p= is the distribution of a jump model, but model={short_repr(model)} is not a "
            "MarkovJump or BipartiteJump; for Langevin models use mean=/cov="
        )
    given = [k for k, v in langevin_options.items() if v is not None and v is not False]
    if given:
        raise ValidationError(
            f"{', '.join(k + '=' for k in given)} apply to Langevin models only; for a jump "
            "model pass p= (a distribution) or nothing (the stationary state)"
        )
    fn = globals()[name]
    return fn(model) if name in ("detailed_balance", "summary") else fn(model, p=p)
