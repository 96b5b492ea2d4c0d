r"""Information flow between the subsystems of a bipartite ensemble (private module).

Public as :func:`stochthermo.estimate.information_flow`. Two routes (``theory/estimators.md``
[EST-flow]): fit a linear Langevin model and apply
:func:`stochthermo.exact.information_flow`, or differentiate the lagged Gaussian mutual
information ``I(X_i(t + s); X_rest(t))`` at ``s = 0+``. Error bars: jackknife over groups of
trajectories (or time segments).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import exact
from .._validation import choose_method, normalize_blocks, positive_int
from ..errors import EstimationError, InsufficientDataError, ModelError, ValidationError
from ..models.linear import LinearLangevin
from ..results import Estimate
from . import _diagnostics as diag
from ._common import as_trajectories, jackknife, model_failure, split_groups
from ._entropy import _linear_fit_total, _relax_rate
from ._linfit import fit_linear, transition_stats
from ._stats import gaussian_mi_cov

if TYPE_CHECKING:
    from typing import Any

    from .._typing import Blocks

__all__ = ["information_flow"]


def _project_blocks(D, blocks):
    out = np.zeros_like(D)
    for b in blocks:
        idx = np.ix_(b, b)
        out[idx] = D[idx]
    return out


def _flow_gaussian(x, tau, blocks, *, n_groups, bias_correct, discretization, time, **_):
    groups, split = split_groups(x, n_groups)
    stats = transition_stats(groups)
    extra: tuple[np.ndarray, ...] = ()
    if time is not None:
        t = int(time)
        if not -x.shape[1] <= t < x.shape[1]:
            raise InsufficientDataError(f"time={time} is outside the {x.shape[1]} saved times")
        if split != "trajectories":
            raise InsufficientDataError(
                f"time= needs at least n_groups={n_groups} trajectories to form the jackknife "
                f"groups, got {x.shape[0]}"
            )
        extra = (
            np.stack([g[:, t].sum(axis=0) for g in groups]),
            np.stack([g[:, t].T @ g[:, t] for g in groups]),
            np.array([float(g.shape[0]) for g in groups]),
        )

    def func(s):
        A, D, x_star, _, _ = fit_linear(s[:6], tau, discretization)
        try:
            model = LinearLangevin(A, _project_blocks(D, blocks), x_star=x_star, blocks=blocks)
            if time is None:
                return exact.information_flow(model)
            m1, m2, nn = s[6], s[7], s[8]
            mean = m1 / nn
            cov = (m2 - nn * np.outer(mean, mean)) / (nn - 1.0)
            return exact.information_flow(model, mean=mean, cov=0.5 * (cov + cov.T))
        except ModelError as exc:
            raise model_failure(exc, "information_flow(method='gaussian')") from None

    value, se, bias, full = jackknife((*stats, *extra), func, bias_correct=bias_correct)
    A, D, _, _, _ = fit_linear(tuple(s.sum(axis=0) for s in stats), tau, discretization)
    off = np.linalg.norm(D - _project_blocks(D, blocks)) / np.linalg.norm(D)
    meta = {
        "uncorrected": full,
        "drift_matrix": A,
        "diffusion": D,
        "offblock_diffusion": float(off),
        "n_groups": len(groups),
        "split": split,
        "time": time,
    }
    d = x.shape[2]
    info = {"groups": groups, "split": split, "stats": stats, "linear_model": True,
            "n_params": d * d + d + d * (d + 1) // 2}
    return value, se, bias, meta, info


def _gauss_mi_cov(S, ia, ib):
    idx = ia + ib
    plug, _, singular = gaussian_mi_cov(S[np.ix_(idx, idx)], None, len(ia), len(ib))
    if singular:
        raise EstimationError("singular covariance in the lagged mutual information")
    return plug


def _flow_lagged(x, tau, blocks, *, n_groups, bias_correct, stride, **_):
    stride = positive_int("stride", stride)
    d = x.shape[2]
    if x.shape[1] <= 2 * stride:
        raise InsufficientDataError(
            f"the lagged route needs more than 2 * stride = {2 * stride} saved times, got "
            f"{x.shape[1]}"
        )
    groups, split = split_groups(x, n_groups, min_time=2 * stride + 1)
    stats = _lagged_stats(groups, stride, d)

    def func(s):
        return _lagged_flows(s, stride * tau, blocks, d)

    value, se, bias, full = jackknife(stats, func, bias_correct=bias_correct)
    meta = {
        "uncorrected": full,
        "stride": stride,
        "n_groups": len(groups),
        "split": split,
        "derivative": "one-sided second order, lags 0, s, 2s",
    }
    info = {"groups": groups, "split": split, "stats": None, "linear_model": False,
            "n_params": 3 * d * (3 * d + 1) // 2}
    shortest = x.shape[1] if split == "trajectories" else min(g.shape[1] for g in groups)
    if shortest > 4 * stride:
        # the same flows at twice the stride: the O(s^2) bias of the difference grows 4 times
        stats2 = _lagged_stats(groups, 2 * stride, d)
        k = len(stats)

        def diff(s):
            return func(s[:k]) - _lagged_flows(s[k:], 2 * stride * tau, blocks, d)

        dval, dse, _, _ = jackknife((*stats, *stats2), diff, bias_correct=False)
        info["stride_difference"] = (np.atleast_1d(dval), np.atleast_1d(dse))
    return value, se, bias, meta, info


def _lagged_stats(groups, stride, d):
    """Per-group sums of ``w = (x_t, x_{t+s}, x_{t+2s})`` and ``w w^T``, and the counts."""
    S1, S2, N = [], [], []
    for g in groups:
        g = np.asarray(g)
        T = g.shape[1] - 2 * stride
        w = np.concatenate([g[:, 0:T], g[:, stride : stride + T], g[:, 2 * stride :]], axis=2)
        w = w.reshape(-1, 3 * d)
        S1.append(w.sum(axis=0))
        S2.append(w.T @ w)
        N.append(float(w.shape[0]))
    return (np.stack(S1), np.stack(S2), np.array(N))


def _lagged_flows(s, h, blocks, d):
    """One-sided second-order derivative of the lagged Gaussian informations, step ``h``."""
    s1, s2, n = s
    mean = s1 / n
    S = (s2 - n * np.outer(mean, mean)) / (n - 1.0)
    out = np.empty(len(blocks))
    for i, b in enumerate(blocks):
        rest = [j for j in range(d) if j not in b]
        f = [_gauss_mi_cov(S, [lag * d + j for j in b], rest) for lag in range(3)]
        out[i] = (-3.0 * f[0] + 4.0 * f[1] - f[2]) / (2.0 * h)
    return out


_METHODS = {"gaussian": _flow_gaussian, "lagged": _flow_lagged}


def information_flow(
    ensemble: Any,
    *,
    blocks: Blocks,
    method: str = "gaussian",
    dt: float | None = None,
    n_groups: int = 32,
    bias_correct: bool = True,
    discretization: str = "exact",
    time: int | None = None,
    stride: int = 1,
    strict: bool = False,
    diagnostics: bool = True,
) -> Estimate:
    r"""Information flow into each subsystem of a bipartite ensemble (nats per unit time).

    Parameters
    ----------
    ensemble : Ensemble or array_like, shape (n_traj, n_time, dim)
    blocks : list
        The subsystems: block sizes (``[1, 1]``) or index lists (``[[0, 2], [1]]``).
    method : {"gaussian", "lagged"}
        ``gaussian``: fit drift and diffusion of a linear Langevin model (as
        ``entropy_production(method="linear")``), zero the diffusion between blocks (the
        process is taken to be bipartite; the relative size of what was dropped is in
        ``meta["offblock_diffusion"]``) and return :func:`stochthermo.exact.information_flow`
        at the fitted stationary state, or at the sample moments of saved time ``time``.
        ``lagged``: ``d/ds I(X_i(t+s); X_rest(t))`` at ``s = 0+`` from Gaussian informations at
        lags 0, ``stride``, ``2 stride`` (one-sided second-order difference), pooled over a
        stationary ensemble.
    dt : float, optional
        Sampling interval (required for a plain array).
    n_groups, bias_correct, discretization
        Jackknife groups, bias correction, and the ``gaussian`` fit (see
        :func:`entropy_production`).
    time : int, optional
        ``gaussian``: evaluate the transient flows at this saved time index.
    stride : int
        ``lagged``: lag step in saved points.
    strict : bool
        Raise :class:`~stochthermo.errors.EstimationError` instead of warning when a self-check
        fails.
    diagnostics : bool
        Run the self-checks of ``theory/estimators.md`` [EST-diag] (stationarity unless
        ``time`` is given, aliasing, amount of data; ``gaussian``: linearity of the drift;
        ``lagged``: the flows at twice the stride, which carry four times the
        finite-difference bias); failures become ``Estimate.warnings``.

    Returns
    -------
    Estimate
        ``value`` and ``stderr`` of shape ``(n_blocks,)``.

    Notes
    -----
    Steady state: :math:`\dot I_i = -\mathrm{tr}_i(M)`, :math:`M = -A + D C^{-1}`, and the flows
    sum to zero; in general :math:`\dot I_i = \langle v_i\cdot\nabla_i \ln p(x_{\bar i}|x_i)\rangle
    = \partial_s I(X_i(t+s); X_{\bar i}(t))|_{s=0^+}` (``theory/estimators.md`` [EST-flow]).
    The ``lagged`` route has an :math:`O(s^2)` bias from the finite difference and assumes
    stationarity; the ``gaussian`` route is exact for linear processes.
    """
    fn = choose_method("method", method, _METHODS)
    x, tau = as_trajectories("ensemble", ensemble, dt)
    blk = normalize_blocks(blocks, x.shape[2])
    if len(blk) < 2:
        raise EstimationError(f"blocks={blocks!r} defines one subsystem; give at least two")
    disc = choose_method("discretization", discretization, {"exact": "exact", "euler": "euler"})
    if time is not None:
        time = _time_index(time)
    value, se, bias, meta, info = fn(
        x,
        tau,
        blk,
        n_groups=n_groups,
        bias_correct=bias_correct,
        discretization=disc,
        time=time,
        stride=stride,
    )
    meta.update(blocks=blk, tau=tau, n_traj=x.shape[0], n_time=x.shape[1])
    warnings: tuple[str, ...] = ()
    if diagnostics:
        checks = _flow_checks(x, tau, np.atleast_1d(se), info, time=time, method=method)
        meta["diagnostics"] = {c["name"]: c for c in checks}
        warnings = diag.finish(checks, strict=strict, where=f"information_flow({method!r})")
    return Estimate(
        np.asarray(value),
        np.asarray(se),
        f"information_flow:{method}",
        meta,
        bias=np.asarray(bias) if bias_correct else None,
        warnings=warnings,
    )


def _time_index(time) -> int:
    from .._validation import short_repr

    if isinstance(time, bool | np.bool_) or not isinstance(time, int | np.integer):
        raise ValidationError(
            f"time={short_repr(time)} must be an int (the index of a saved time)"
        )
    return int(time)


def _flow_checks(x, tau, se, info, *, time, method):
    """The self-checks of [EST-diag] on the data of an information-flow estimate."""
    groups, split = info["groups"], info["split"]
    stats = info["stats"] if info["stats"] is not None else transition_stats(groups)
    F = _linear_fit_total(stats, tau)
    checks = []
    if time is None:
        st = diag.stationarity(groups, split)
        if not st["passed"]:
            st["message"] += (
                f"; method={method!r} pools all times as one steady state: for a relaxing "
                "ensemble use method='gaussian' with time=<saved index>"
            )
        checks.append(st)
    checks.append(diag.aliasing(F, tau))
    checks.append(diag.quantization(groups))
    if info["linear_model"]:
        checks.append(diag.linear_adequacy(groups, tau=tau))
    if "stride_difference" in info:
        dval, dse = info["stride_difference"]
        per_block = [diag.difference_check(
            "discretisation", float(dval[i]), float(dse[i]),
            f"the flow into block {i} at the stride differs from the one at twice the stride",
            "the finite-difference bias O(stride^2) is not negligible: sample more finely, use "
            "a smaller stride, or method='gaussian'",
            n_tests=len(dval), value_se=float(se[i]),
        ) for i in range(len(dval))]
        failed = [c for c in per_block if not c["passed"]]
        checks.append(failed[0] if failed else max(per_block, key=lambda c: abs(c["statistic"])))
    checks.append(diag.data_amount(
        n_transitions=x.shape[0] * (x.shape[1] - 1), n_params=info["n_params"], tau=tau,
        relax_rate=_relax_rate(F, tau), n_traj=x.shape[0], n_time=x.shape[1],
        n_groups=len(groups), split=split,
    ))
    return checks
