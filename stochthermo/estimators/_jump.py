r"""Entropy production and information flow from Markov jump data (a :class:`JumpEnsemble`).

Plug-in estimators from counted transitions ``N_ij`` and residence times ``R_j`` (the rates are
``N_ij / R_j``, the currents ``(N_ij - N_ji) / T``), lower bounds from coarse-grained or
time-sampled data, and path averages of the observables accumulated by the simulation. Error bars
and bias correction: delete-one-group jackknife over groups of independent trajectories.
Derivations: ``theory/jump.md`` [JP-est-plugin], [JP-est-pairs], [JP-est-kld], [JP-est-path].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import choose_method, positive_int, short_repr
from ..errors import InsufficientDataError, ModelError, ValidationError
from ..results import Estimate
from ._common import group_slices, jackknife

__all__ = ["jump_entropy_production", "jump_information_flow", "is_jump_data", "summarize_jump"]

#: Pseudo-count added to both directions inside the logarithm (keeps ln finite; Anscombe).
PSEUDO = 0.5


def is_jump_data(obj) -> bool:
    """True for a :class:`~stochthermo.JumpEnsemble` (checked without importing Numba)."""
    from .._simulate_jump import JumpEnsemble

    return isinstance(obj, JumpEnsemble)


def _ensemble(ens):
    if not is_jump_data(ens):
        raise ValidationError(f"ensemble={short_repr(ens)} is not a JumpEnsemble; simulate one "
                              "with stochthermo.simulate_jump")
    return ens


def _groups(ens, n_groups):
    n_groups = positive_int("n_groups", n_groups)
    G = min(n_groups, ens.n_traj)
    if G < 2:
        raise InsufficientDataError(
            f"the jackknife needs at least 2 independent trajectories, got n_traj={ens.n_traj} "
            f"and n_groups={n_groups}; simulate more trajectories"
        )
    return group_slices(ens.n_traj, G)


def _grouped(arr, slices):
    return np.stack([arr[s].sum(axis=0) for s in slices])


def _counts(ens, slices):
    """Counted jumps per jackknife group, (G, n, n); refuses data without any jump."""
    total = int(np.asarray(ens.counts).sum())
    if total == 0:
        raise InsufficientDataError(
            f"the ensemble holds no jump at all (n_traj={ens.n_traj}, t_max={ens.t_max:g}); "
            "simulate longer trajectories"
        )
    return _grouped(np.asarray(ens.counts, dtype=np.float64), slices)


def _residence(ens):
    if "residence" not in ens.observables:
        raise ValidationError(
            "this estimator needs the residence times; simulate with observables including "
            "'residence' (the default)"
        )
    return np.asarray(ens.observables["residence"], dtype=np.float64)


def _log_ratio(N):
    """``ln((N_ij + 1/2) / (N_ji + 1/2))``."""
    return np.log(N + PSEUDO) - np.log(N.T + PSEUDO)


def _pair_sum(N, mask=None):
    """``sum_{i<j} (N_ij - N_ji) ln((N_ij + 1/2)/(N_ji + 1/2))`` (over ``mask`` if given)."""
    term = np.triu((N - N.T) * _log_ratio(N), k=1)
    if mask is not None:
        term = term * np.triu(mask, k=1)
    return float(term.sum())


def _bipartite_masks(ens):
    nx, ny = ens.meta.get("nx"), ens.meta.get("ny")
    if nx is None:
        return None
    y = np.arange(nx * ny) % ny
    xmask = y[:, None] == y[None, :]
    return xmask, ~xmask & ~np.eye(nx * ny, dtype=bool)


def _one_way_warning(N):
    one = ((N > 0) & (N.T == 0)).sum()
    if one:
        return (f"{int(one)} transition(s) were seen in one direction only; the logarithm of "
                "their count ratio rests on a pseudo-count of 1/2: simulate longer or more "
                "trajectories",)
    return ()


def _ep_plugin(ens, slices, *, bias_correct, **_):
    counts = _counts(ens, slices)
    resid = _grouped(_residence(ens), slices)
    masks = _bipartite_masks(ens)

    def func(stats):
        N, R = stats
        T = R.sum()
        out = [_pair_sum(N) / T]
        if masks is not None:
            out += [_pair_sum(N, masks[0]) / T, _pair_sum(N, masks[1]) / T]
        return np.array(out)

    value, se, bias, full = jackknife((counts, resid), func, bias_correct=bias_correct)
    value, se, bias, full = (np.atleast_1d(v) for v in (value, se, bias, full))
    meta: dict[str, object] = {"uncorrected": float(full[0]), "total_time": float(resid.sum()),
            "n_jumps": int(counts.sum()), "pseudo_count": PSEUDO, "bound": None}
    if masks is not None:
        meta["subsystem"] = {"value": value[1:], "stderr": se[1:],
                             "names": ("sigma_X", "sigma_Y")}
    return (float(value[0]), float(se[0]), float(bias[0]), meta,
            _one_way_warning(counts.sum(axis=0)))


def _labels(ens, observe, labels):
    n = ens.n_states
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != (n,) or lab.dtype.kind not in "iu" or np.any(lab < 0):
            raise ValidationError(f"labels={short_repr(labels)} must be {n} non-negative integer "
                                  "class labels, one per state")
        # only the partition matters: number the classes 0..k-1 (labels like 10**9 stay cheap)
        return np.unique(lab, return_inverse=True)[1].reshape(n).astype(np.int64), "labels"
    nx, ny = ens.meta.get("nx"), ens.meta.get("ny")
    if observe not in ("x", "y", "joint"):
        raise ValidationError(f"observe={observe!r} must be 'x', 'y' or 'joint' (or pass labels=)")
    if observe == "joint":
        return np.arange(n), "joint"
    if nx is None:
        raise ModelError(f"observe={observe!r} needs bipartite data; pass labels= (a class per "
                         "state) or observe='joint'")
    s = np.arange(n)
    return (s // ny if observe == "x" else s % ny), observe


def _coarse_counts(N, lab):
    k = int(lab.max()) + 1
    onehot = np.zeros((lab.size, k))
    onehot[np.arange(lab.size), lab] = 1.0
    C = np.einsum("ia,gij,jb->gab", onehot, N, onehot)
    idx = np.arange(k)
    C[:, idx, idx] = 0.0
    return C


def _ep_pairs(ens, slices, *, bias_correct, observe, labels, **_):
    lab, what = _labels(ens, observe, labels)
    counts = _coarse_counts(_counts(ens, slices), lab)
    resid = _grouped(_residence(ens), slices)

    def func(stats):
        N, R = stats
        return _pair_sum(N) / R.sum()

    value, se, bias, full = jackknife((counts, resid), func, bias_correct=bias_correct)
    meta = {"uncorrected": full, "observed": what, "n_classes": int(lab.max()) + 1,
            "bound": "lower bound on the entropy production rate (and on sigma_X when x is "
                     "observed): log-sum inequality over the hidden states",
            "pseudo_count": PSEUDO}
    return value, se, bias, meta, _one_way_warning(counts.sum(axis=0))


def _ep_kld(ens, slices, *, bias_correct, observe, labels, stride, **_):
    lab, what = _labels(ens, observe, labels)
    stride = positive_int("stride", stride)
    states = np.asarray(ens.states)
    if states.shape[1] <= stride:
        raise InsufficientDataError(f"the ensemble has {states.shape[1]} sampled times; "
                                    f"stride={stride} needs more")
    tau = float(ens.times[stride] - ens.times[0])
    a = lab[states[:, :-stride]]
    b = lab[states[:, stride:]]
    k = int(lab.max()) + 1
    flat = a * k + b
    per_traj = np.stack([np.bincount(row, minlength=k * k) for row in flat]).reshape(-1, k, k)
    pairs = _grouped(per_traj.astype(np.float64), slices)

    def func(stats):
        (C,) = stats
        return _pair_sum(C) / C.sum() / tau

    value, se, bias, full = jackknife((pairs,), func, bias_correct=bias_correct)
    meta = {"uncorrected": full, "observed": what, "tau": tau, "stride": stride,
            "bound": "lower bound on the entropy production rate: Kullback-Leibler divergence "
                     "rate of sampled pairs (assumes a stationary ensemble)",
            "pseudo_count": PSEUDO}
    return value, se, bias, meta, ()


def _path_mean(samples, t_max):
    samples = np.asarray(samples, dtype=np.float64) / t_max
    n = samples.shape[0]
    if n < 2:
        raise InsufficientDataError("the path average needs at least 2 trajectories")
    return samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(n)


def _ep_path(ens, slices, **_):
    if "entropy_flow" not in ens.observables:
        raise ValidationError("method='path' needs the 'entropy_flow' observable of the run")
    value, se = _path_mean(np.asarray(ens.observables["entropy_flow"]).sum(axis=1), ens.t_max)
    meta = {"bound": None, "note": "mean entropy flow into the reservoirs per unit time; equals "
            "the entropy production rate for a stationary ensemble"}
    return float(value), float(se), 0.0, meta, ()


_EP_METHODS = {"plugin": _ep_plugin, "visible_pairs": _ep_pairs, "kld_sampled": _ep_kld,
               "path": _ep_path}


def _jump_stationarity(ens, slices, n_windows: int = 4):
    """[EST-diag] stationarity on jump data: state occupations across time windows.

    The sampled states of each jackknife group give the fraction of samples in each state per
    time window (the first sample, the start, is left out); :func:`window_stationarity` tests
    whether any occupation differs between windows by more than its spread over groups allows.
    A relaxing ensemble (started away from the stationary law, over a time not much longer
    than its relaxation) fails it; the counted-jump estimators assume a steady state.
    """
    from . import _diagnostics as diag

    states = np.asarray(ens.states)[:, 1:]
    n = ens.n_states
    if states.size == 0 or states.min() < 0 or states.max() >= n:
        return diag._check("stationarity", True, None, None,
                           "not tested: no sampled states in 0..n_states-1", tested=False)
    W = min(n_windows, states.shape[1])
    edges = np.linspace(0, states.shape[1], W + 1).round().astype(int)
    table = np.zeros((len(slices), W, n))
    for u, sl in enumerate(slices):
        for w in range(W):
            block = states[sl, edges[w]:edges[w + 1]].ravel()
            if block.size:
                table[u, w] = np.bincount(block, minlength=n)[:n] / block.size
    check = diag.window_stationarity(table, lambda k: f"occupation of state {k}")
    if not check["passed"]:
        check["message"] += (
            " (the ensemble still relaxes); the counted-jump estimators assume a steady state: "
            "start from the stationary law or simulate longer and drop the transient"
        )
    return check


def jump_entropy_production(ensemble, *, method: str = "plugin", n_groups: int = 32,
                            bias_correct: bool = True, observe: str = "x", labels=None,
                            stride: int = 1) -> Estimate:
    r"""Entropy production rate of a stationary jump ensemble (nats per unit time).

    Parameters
    ----------
    ensemble : JumpEnsemble
    method : {'plugin', 'visible_pairs', 'kld_sampled', 'path'}
        ``plugin`` [JP-est-plugin]: :math:`\hat\sigma = T^{-1} \sum_{i<j} (N_{ij} - N_{ji})
        \ln\frac{N_{ij} + 1/2}{N_{ji} + 1/2}` from every counted jump (``meta['subsystem']``:
        the same over x- and y-jumps, :math:`\hat\sigma_X, \hat\sigma_Y`). ``visible_pairs``
        [JP-est-pairs]: the same on jumps between observed classes only (``observe`` or
        ``labels``); a **lower bound**. ``kld_sampled`` [JP-est-kld]: Kullback-Leibler rate of
        forward vs reversed pairs of observed states ``stride`` samples apart; a **lower
        bound**. ``path`` [JP-est-path]: mean accumulated entropy flow per unit time.
    n_groups : int
        Jackknife groups of trajectories (at most ``n_traj``).
    bias_correct : bool
        Subtract the jackknife bias estimate (default).
    observe : {'x', 'y', 'joint'}
        What the bounds see (bipartite data); ``labels`` (one class per state) overrides it.
    stride : int
        ``kld_sampled``: lag in samples.

    Returns
    -------
    Estimate
        ``method`` is ``'entropy_production:<method>'`` (bounds end in ``':lower_bound'``);
        ``meta['bound']`` says what a bound bounds (None for estimates).
    """
    ens = _ensemble(ensemble)
    fn = choose_method("method", method, _EP_METHODS)
    slices = _groups(ens, n_groups)
    value, se, bias, meta, warnings = fn(ens, slices, bias_correct=bias_correct,
                                         observe=observe, labels=labels, stride=stride)
    meta.update(n_traj=ens.n_traj, n_groups=len(slices), t_max=ens.t_max)
    st = _jump_stationarity(ens, slices)
    meta["diagnostics"] = {"stationarity": st}
    if not st["passed"]:
        warnings = (*warnings, st["message"])
    name = f"entropy_production:{method}" + (":lower_bound" if meta.get("bound") else "")
    return Estimate(value, se, name, meta, bias=bias if bias_correct else None,
                    warnings=warnings)


def _flow_plugin(ens, slices, *, bias_correct):
    masks = _bipartite_masks(ens)
    if masks is None:
        raise ModelError("information_flow needs data from a BipartiteJump model")
    nx, ny = ens.meta["nx"], ens.meta["ny"]
    counts = _counts(ens, slices)
    resid = _grouped(_residence(ens), slices)
    xmask, ymask = masks

    def func(stats):
        N, R = stats
        T = R.sum()
        p = R / T
        pg = p.reshape(nx, ny)
        with np.errstate(divide="ignore"):
            lcx = np.log(p) - np.log(np.repeat(pg.sum(axis=1), ny))  # ln p(y|x)
            lcy = np.log(p) - np.log(np.tile(pg.sum(axis=0), nx))  # ln p(x|y)
        J = (N - N.T) / T  # J[i, j]: net current j -> i
        out = []
        for mask, lc in ((xmask, lcx), (ymask, lcy)):
            with np.errstate(invalid="ignore"):
                term = J * (lc[:, None] - lc[None, :])
            term = np.where(np.triu(mask, k=1) & (J != 0), term, 0.0)
            out.append(term.sum())
        return np.array(out)

    value, se, bias, full = jackknife((counts, resid), func, bias_correct=bias_correct)
    meta = {"uncorrected": full, "total_time": float(resid.sum()), "names": ("Idot_X", "Idot_Y")}
    return value, se, bias, meta


def jump_information_flow(ensemble, *, method: str = "plugin", n_groups: int = 32,
                          bias_correct: bool = True) -> Estimate:
    r"""Information flows :math:`(\dot I^X, \dot I^Y)` of a stationary bipartite jump ensemble.

    Parameters
    ----------
    ensemble : JumpEnsemble
        From a :class:`~stochthermo.BipartiteJump` model.
    method : {'plugin', 'path'}
        ``plugin`` [JP-est-plugin]: :math:`\sum_{x\text{-jumps}} \hat J_{ij}
        \ln\frac{\hat p(y|x_i)}{\hat p(y|x_j)}` with :math:`\hat J = (N - N^\top)/T` and
        :math:`\hat p` the fraction of time in each state. ``path`` [JP-est-path]: mean
        accumulated stochastic information flow per unit time (reference law: the model's
        stationary one).
    n_groups, bias_correct
        Jackknife over groups of trajectories.

    Returns
    -------
    Estimate
        ``value`` and ``stderr`` of shape (2,).
    """
    ens = _ensemble(ensemble)
    if method not in ("plugin", "path"):
        choose_method("method", method, {"plugin": None, "path": None})
    slices = _groups(ens, n_groups)
    meta: dict[str, Any]
    if method == "path":
        if "information_flow" not in ens.observables:
            raise ValidationError("method='path' needs the 'information_flow' observable of a "
                                  "bipartite run")
        value, se = _path_mean(ens.observables["information_flow"], ens.t_max)
        meta, bias = {"names": ("Idot_X", "Idot_Y")}, np.zeros(2)
    else:
        value, se, bias, meta = _flow_plugin(ens, slices, bias_correct=bias_correct)
    meta.update(n_traj=ens.n_traj, n_groups=len(slices), t_max=ens.t_max, bound=None)
    st = _jump_stationarity(ens, slices)
    meta["diagnostics"] = {"stationarity": st}
    return Estimate(np.asarray(value), np.asarray(se), f"information_flow:{method}", meta,
                    bias=bias if bias_correct else None,
                    warnings=() if st["passed"] else (st["message"],))


def with_jump_data(func, jump_func):
    """``func`` that also accepts a :class:`~stochthermo.JumpEnsemble` (sent to ``jump_func``)."""
    import functools
    import inspect

    @functools.wraps(func)
    def wrapper(ensemble, *args, **kwargs):
        if is_jump_data(ensemble):
            if args:
                raise ValidationError("pass the options of a jump estimator as keywords")
            known = [k for k in inspect.signature(jump_func).parameters if k != "ensemble"]
            unknown = sorted(set(kwargs) - set(known))
            if unknown:
                raise ValidationError(
                    f"{', '.join(k + '=' for k in unknown)} does not apply to jump data (a "
                    f"JumpEnsemble); {jump_func.__name__} takes "
                    f"{', '.join(k + '=' for k in known)}"
                )
            return jump_func(ensemble, **kwargs)
        return func(ensemble, *args, **kwargs)

    methods = _EP_METHODS if jump_func is jump_entropy_production else ("plugin", "path")
    wrapper.__doc__ = (func.__doc__ or "") + (
        f"\n    A :class:`~stochthermo.JumpEnsemble` is handled by "
        f":func:`stochthermo.estimators._jump.{jump_func.__name__}` (methods "
        f"{', '.join(repr(k) for k in methods)}; default 'plugin'; ``theory/jump.md``).\n")
    return wrapper


def summarize_jump(ens, model) -> dict:
    """Simulation against exact values for a stationary jump ensemble (JSON-friendly numbers).

    Keys: ``stationary_distribution``, ``entropy_production`` (plug-in estimate from counted
    jumps), ``environment_entropy_flows`` (path averages), and for bipartite models
    ``information_flows`` (path averages). Each entry holds ``estimate``, ``stderr``, ``exact``
    and ``z = (estimate - exact) / stderr``.
    """
    from .. import _exact_jump as ej
    from ..models.jump import BipartiteJump

    if _ensemble(ens).n_traj < 2:
        raise InsufficientDataError(
            f"a summary with standard errors needs at least 2 trajectories, got "
            f"n_traj={ens.n_traj}; simulate more trajectories"
        )

    def entry(est, se, ex):
        est, se, ex = (np.asarray(v, dtype=np.float64) for v in (est, se, ex))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, (est - ex) / np.where(se > 0, se, 1.0), np.nan)
        return {"estimate": est, "stderr": se, "exact": ex, "z": z}

    t = ens.t_max
    out = {"model": repr(model), "n_traj": ens.n_traj, "t_max": t,
           "seed": ens.meta.get("seed"), "n_jumps": int(ens.counts.sum())}
    if "residence" in ens.observables:
        frac = np.asarray(ens.observables["residence"]) / t
        out["stationary_distribution"] = entry(
            frac.mean(axis=0), frac.std(axis=0, ddof=1) / np.sqrt(ens.n_traj),
            ej.stationary_distribution(model))
        ep = jump_entropy_production(ens)
        out["entropy_production"] = entry(ep.value, ep.stderr, ej.entropy_production_rate(model))
    if "entropy_flow" in ens.observables:
        f = np.asarray(ens.observables["entropy_flow"]) / t
        out["environment_entropy_flows"] = entry(
            f.mean(axis=0), f.std(axis=0, ddof=1) / np.sqrt(ens.n_traj),
            ej.environment_entropy_flows(model))
    if isinstance(model, BipartiteJump) and "information_flow" in ens.observables:
        fl = jump_information_flow(ens, method="path")
        out["information_flows"] = entry(fl.value, fl.stderr, ej.information_flows(model))
    return out
