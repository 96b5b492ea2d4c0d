r"""Self-checks run by the entropy-production estimators on the data they are given.

Each check returns a dict ``{"name", "passed", "statistic", "threshold", "message", ...}``;
a failed check becomes a warning of the :class:`~stochthermo.results.Estimate` (or an
:class:`~stochthermo.errors.EstimationError` with ``strict=True``). Derivations and thresholds:
``theory/estimators.md`` [EST-diag].

All tests are calibrated so that a false alarm is rare (family-wise level ``ALPHA`` per check):
a warning means the data contradict an assumption of the estimator, not that they might.
"""

from __future__ import annotations

import numpy as np

from ..errors import EstimationError
from ._basis import make_basis, poly_size

__all__ = [
    "ALPHA",
    "stationarity",
    "aliasing",
    "linear_adequacy",
    "data_amount",
    "difference_check",
    "quantization",
    "constant_diffusion",
    "finish",
]

#: relative spread of the fitted state-dependent diffusion above which it is not constant
MAX_DIFFUSION_SPREAD = 0.2

#: quantisation step over increment spread above which the data are too coarse
MAX_QUANTIZATION = 0.5

ALPHA = 1e-3  # family-wise false-alarm level of each check
_ROWS = 2048  # rows of basis values held at once by the lack-of-fit test


def _t_threshold(dof: int, n_tests: int) -> float:
    from scipy.stats import t as tdist

    return float(tdist.isf(ALPHA / (2.0 * n_tests), max(dof, 1)))


def _check(name, passed, statistic, threshold, message, **extra):
    out = {
        "name": name,
        "passed": bool(passed),
        "statistic": None if statistic is None else float(statistic),
        "threshold": None if threshold is None else float(threshold),
        "message": message,
    }
    out.update(extra)
    return out


def stationarity(groups, split: str, *, n_windows: int = 4):
    r"""Moments across time windows, in units of their standard error.

    For trajectory groups ``u`` and time windows ``w`` we take the window means ``s_uw`` of
    ``x_i`` and ``(x_i - xbar_i)^2``; ``delta_uw = s_uw - mean_w' s_uw'`` removes what a group
    shares across windows, and ``z_w = mean_u delta_uw / (sd_u delta_uw / sqrt(U))`` is a
    t statistic with ``U - 1`` degrees of freedom. When the groups are time segments (few
    trajectories), consecutive segments form the windows and their order within a window the
    pairing. The threshold is Bonferroni over windows and moments at level ``ALPHA``.
    """
    rows, xbar = [], None
    for g in groups:
        g = np.asarray(g)
        if xbar is None:
            xbar = g.mean(axis=(0, 1))  # a fixed centre for the second moments
        if split == "trajectories":
            n_time = g.shape[1]
            W = min(n_windows, n_time)
            edges = np.linspace(0, n_time, W + 1).round().astype(int)
            rows.append([_moments(g[:, edges[w] : edges[w + 1]], xbar) for w in range(W)])
        else:
            rows.append(_moments(g, xbar))
    if split == "trajectories":
        table = np.array(rows)  # (U, W, 2d)
    else:
        G = len(rows)
        W = min(n_windows, G // 4) if G >= 8 else 0
        if W < 2:
            return _check(
                "stationarity", True, None, None,
                "not tested: too few time segments (need >= 8 groups)", tested=False,
            )
        U = G // W
        table = np.array(rows[: U * W]).reshape(W, U, -1).transpose(1, 0, 2)
    d = table.shape[2] // 2
    return window_stationarity(
        table, lambda k: f"mean of x[{k}]" if k < d else f"second moment of x[{k - d}]")


def window_stationarity(table, describe):
    r"""The t test of :func:`stationarity` on a table ``(U groups, W windows, K moments)``.

    ``describe(k)`` names moment ``k`` in the message. Not tested below 4 groups or 2 windows.
    """
    table = np.asarray(table, dtype=np.float64)
    U = table.shape[0]
    if U < 4 or table.shape[1] < 2:
        return _check(
            "stationarity", True, None, None,
            "not tested: too few groups or windows", tested=False,
        )
    delta = table - table.mean(axis=1, keepdims=True)
    mean = delta.mean(axis=0)
    sd = delta.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, mean / (sd / np.sqrt(U)), 0.0)
    zmax = float(np.max(np.abs(z)))
    thr = _t_threshold(U - 1, z.size)
    w, k = np.unravel_index(int(np.argmax(np.abs(z))), z.shape)
    passed = zmax <= thr
    msg = (
        f"stationarity: the {describe(int(k))} in time window {w + 1} of {table.shape[1]} "
        f"differs from its average over windows by {zmax:.1f} standard errors (threshold "
        f"{thr:.1f}); the data are not stationary"
    )
    return _check("stationarity", passed, zmax, thr, msg if not passed else "passed",
                  tested=True, z=z)


def _moments(seg, center):
    return np.concatenate([seg.mean(axis=(0, 1)), ((seg - center) ** 2).mean(axis=(0, 1))])


def aliasing(F: np.ndarray, tau: float, *, max_angle: float = np.pi / 2):
    r"""Propagator eigenvalues near the branch cut of the matrix logarithm.

    The principal logarithm of ``F = exp(-A tau)`` recovers a rotation rate ``omega`` only if
    ``|omega tau| < pi``; an eigenvalue with phase ``|arg lambda| > max_angle`` (fewer than
    ``2 pi / max_angle`` samples per turn of the fastest fitted rotation) cannot be told apart
    from a faster rotation aliased onto it.
    """
    ev = np.linalg.eigvals(F)
    ang = np.abs(np.angle(ev))
    worst = float(ang.max()) if ang.size else 0.0
    omega = worst / tau
    passed = worst <= max_angle
    msg = (
        f"aliasing: the fitted propagator has an eigenvalue {complex(ev[int(np.argmax(ang))]):.3g} "
        f"with phase {worst:.2f} rad per sample (fastest fitted rotation {omega:.3g} per unit "
        f"time, {2 * np.pi / max(worst, 1e-300):.1f} samples per turn); sampling this coarse "
        "cannot exclude a faster rotation aliased onto the principal branch (the rate may be "
        "far too low): sample at least 4 times per turn"
    )
    return _check("aliasing", passed, worst, max_angle, msg if not passed else "passed",
                  eigenvalues_real=ev.real, eigenvalues_imag=ev.imag)


def _lof_degree(d: int):
    if d <= 4:
        return 3
    if d <= 8:
        return 2
    return None


def linear_adequacy(groups, *, tau: float):
    r"""Lack of fit of the linear drift against a polynomial one.

    Regress each increment coordinate ``dx_i`` on the monomials of degree <= 3 (<= 2 above
    4-d) of ``x_t``; the F statistic ``((RSS_1 - RSS_3)/q) / (RSS_3/(n - p))`` tests whether
    the non-linear terms explain significantly more of the increments than the linear ones.
    For a linear (Ornstein-Uhlenbeck) process the exact transition mean is linear at any
    sampling interval, so the test is exact under the null. Bonferroni over coordinates.
    """
    from scipy.stats import f as fdist

    first = np.asarray(next(iter(groups)))  # groups may be read from disk: iterate, not list
    d = first.shape[2]
    deg = _lof_degree(d)
    if deg is None:
        return _check("linearity", True, None, None, f"not tested in {d} dimensions",
                      tested=False)
    sample = first[:, :-1].reshape(-1, d)[:20000].copy()
    del first
    basis = make_basis(f"poly{deg}", sample)
    p, p1 = basis.size, poly_size(d, 1)
    Sbb = np.zeros((p, p))
    Sbd = np.zeros((p, d))
    Sdd = np.zeros(d)
    n = 0
    for g in groups:
        g = np.asarray(g)
        step = max(1, _ROWS // max(g.shape[1] - 1, 1))  # trajectories per block: bounded memory
        for lo in range(0, g.shape[0], step):
            blk = g[lo : lo + step]
            X = blk[:, :-1].reshape(-1, d)
            dx = (blk[:, 1:] - blk[:, :-1]).reshape(-1, d)
            B = basis(X)
            Sbb += B.T @ B
            Sbd += B.T @ dx
            Sdd += np.einsum("ij,ij->j", dx, dx)
            n += X.shape[0]
        del g, blk, X, dx, B
    if n <= 2 * p:
        return _check("linearity", True, None, None, "not tested: too few transitions",
                      tested=False)

    def rss(k):
        S = Sbb[:k, :k]
        coef = np.linalg.lstsq(S, Sbd[:k], rcond=None)[0]
        return Sdd - np.einsum("ij,ij->j", coef, Sbd[:k])

    r1, r3 = rss(p1), rss(p)
    q = p - p1
    with np.errstate(divide="ignore", invalid="ignore"):
        F = ((r1 - r3) / q) / (r3 / (n - p))
    F = np.where(np.isfinite(F), F, 0.0)
    pvals = fdist.sf(F, q, n - p)
    worst = int(np.argmin(pvals))
    pmin = float(pvals[worst])
    passed = pmin * d >= ALPHA
    gain = float((r1[worst] - r3[worst]) / max(r1[worst], 1e-300))
    msg = (
        f"linearity: a degree-{deg} polynomial drift explains significantly more of the "
        f"increments of x[{worst}] than the linear one (F = {F[worst]:.3g} on {q} and {n - p} "
        f"degrees of freedom, p = {pmin:.2g}, residual variance down {100 * gain:.2g}%); the "
        "process is not linear, so a linear-Gaussian rate is only a projection (often far too "
        "low): use method='inference'"
    )
    return _check("linearity", passed, pmin, ALPHA / d, msg if not passed else "passed",
                  F=F, degree=deg)


def data_amount(*, n_transitions: int, n_params: int, tau: float, relax_rate: float | None,
                n_traj: int, n_time: int, n_groups: int, split: str):
    r"""Too little data: independent samples per fitted parameter and jackknife groups.

    ``n_eff = T_total * relax_rate`` (total observed time over the slowest relaxation time,
    capped by the number of transitions) must exceed ``10 n_params``; with time-segment groups
    each segment must span at least 5 relaxation times (else the groups are not independent and
    the error bar is too small); at least 8 groups are needed for a usable error bar.
    """
    problems = []
    T = n_transitions * tau
    n_eff = float(n_transitions)
    if relax_rate is not None and np.isfinite(relax_rate) and relax_rate > 0:
        n_eff = min(n_eff, T * relax_rate + n_traj)
    if n_eff < 10 * n_params:
        problems.append(
            f"about {n_eff:.0f} independent samples for {n_params} fitted parameters (want >= "
            f"{10 * n_params})"
        )
    if split == "time segments" and relax_rate is not None and relax_rate > 0:
        seg = (n_time // n_groups) * tau * relax_rate
        if seg < 5:
            problems.append(
                f"time segments of {seg:.2g} relaxation times (want >= 5; the jackknife groups "
                "are correlated and the error bar too small): pass more or longer trajectories "
                "or a smaller n_groups"
            )
    if n_groups < 8:
        problems.append(f"only {n_groups} jackknife groups (want >= 8)")
    passed = not problems
    msg = "too little data: " + "; ".join(problems)
    return _check("data", passed, n_eff, 10 * n_params, msg if not passed else "passed")


def difference_check(name: str, diff: float, se: float, what: str, advice: str,
                     *, n_tests: int = 1, value_se: float = 0.0, tolerance: float = 0.5):
    """A difference between two estimates in units of its (jackknife) standard error.

    Fails when the difference is significant (``|z| > threshold``) *and* larger than
    ``tolerance`` times the standard error ``value_se`` of the estimate itself: a systematic
    error well inside the error bar does not make the answer wrong.
    """
    from scipy.stats import norm

    thr = float(norm.isf(ALPHA / (2.0 * n_tests)))
    z = float(diff / se) if se > 0 else (0.0 if diff == 0 else np.inf)
    passed = abs(z) <= thr or abs(diff) <= tolerance * value_se
    msg = f"{name}: {what} by {diff:.3g} ({z:.1f} standard errors, threshold {thr:.1f}); {advice}"
    return _check(name, passed, z, thr, msg if not passed else "passed", difference=float(diff))


def quantization(groups, *, max_rows: int = 20000):
    r"""Check that the state space is continuous at the scale of one increment.

    The estimators treat ``x`` as a diffusion, whose values never repeat exactly. Rounded,
    integer or boolean data have a smallest step ``q`` between distinct values (measured on
    the first group, at most ``max_rows`` points); rounding adds a noise of variance
    ``q^2/12`` to every point and makes increments of 0 common, which biases the diffusion
    and the currents. The check fails when ``q`` exceeds ``MAX_QUANTIZATION`` times the
    standard deviation of the increments of that coordinate.
    """
    first = np.asarray(next(iter(groups)))
    d = first.shape[2]
    inc = (first[:, 1:] - first[:, :-1]).reshape(-1, d)[:max_rows]
    vals = first.reshape(-1, d)[:max_rows]
    ratio = np.zeros(d)
    steps = np.zeros(d)
    for j in range(d):
        u = np.unique(vals[:, j])
        q = float(np.min(np.diff(u))) if u.size > 1 else 0.0
        sd = float(inc[:, j].std())
        steps[j] = q
        ratio[j] = q / sd if sd > 0 else (np.inf if q > 0 else 0.0)
    worst = int(np.argmax(ratio))
    passed = ratio[worst] <= MAX_QUANTIZATION
    zero = float(np.mean(inc[:, worst] == 0)) if inc.size else 0.0
    msg = (
        f"quantization: x[{worst}] takes values on a grid of step {steps[worst]:.3g}, "
        f"{ratio[worst]:.2g} times the spread of its increments ({100 * zero:.2g}% of the "
        "increments are exactly 0); the estimators assume a continuous state (a diffusion), "
        "and rounding this coarse biases the diffusion and the currents: pass the unrounded "
        "data or sample more coarsely in time"
    )
    return _check("quantization", passed, ratio[worst], MAX_QUANTIZATION,
                  msg if not passed else "passed", step=steps)


def _blocks_of(groups):
    for g in groups:
        g = np.asarray(g)
        step = max(1, _ROWS // max(g.shape[1] - 1, 1))
        for lo in range(0, g.shape[0], step):
            blk = g[lo : lo + step]
            d = blk.shape[2]
            yield blk[:, :-1].reshape(-1, d), (blk[:, 1:] - blk[:, :-1]).reshape(-1, d)


def constant_diffusion(groups):
    r"""Is the noise additive? Squared drift residuals regressed on quadratic monomials.

    Every method takes the diffusion matrix to be constant. The increments are regressed on
    the polynomial drift of :func:`linear_adequacy` (degree 3, 2 above 4-d); each squared
    residual ``r_i^2`` is then regressed on the monomials of degree <= 2 of ``x_t``. The check
    fails when the F test is significant (Bonferroni over coordinates at ``ALPHA``) *and* the
    fitted ``E[r_i^2 | x]`` varies by more than ``MAX_DIFFUSION_SPREAD`` of its mean (standard
    deviation over the data): multiplicative noise. A smooth non-linear drift leaves an
    ``O(tau)`` variation, well inside that tolerance.
    """
    from scipy.stats import f as fdist

    first = np.asarray(next(iter(groups)))
    d = first.shape[2]
    deg = _lof_degree(d)
    if deg is None:
        return _check("constant_diffusion", True, None, None, f"not tested in {d} dimensions",
                      tested=False)
    basis = make_basis(f"poly{deg}", first[:, :-1].reshape(-1, d)[:20000].copy())
    del first
    p, p2 = basis.size, poly_size(d, 2)
    Sbb = np.zeros((p, p))
    Sbd = np.zeros((p, d))
    n = 0
    for X, dx in _blocks_of(groups):
        B = basis(X)
        Sbb += B.T @ B
        Sbd += B.T @ dx
        n += X.shape[0]
    if n <= 2 * (p + p2):
        return _check("constant_diffusion", True, None, None, "not tested: too few transitions",
                      tested=False)
    coef = np.linalg.lstsq(Sbb, Sbd, rcond=None)[0]  # (p, d)
    Gbb = np.zeros((p2, p2))
    Gbr = np.zeros((p2, d))
    Srr = np.zeros(d)
    for X, dx in _blocks_of(groups):
        B = basis(X)
        r2 = (dx - B @ coef) ** 2
        B2 = B[:, :p2]
        Gbb += B2.T @ B2
        Gbr += B2.T @ r2
        Srr += np.einsum("ij,ij->j", r2, r2)
    g = np.linalg.lstsq(Gbb, Gbr, rcond=None)[0]  # (p2, d)
    mean = Gbr[0] / Gbb[0, 0]  # the first monomial is the constant 1
    rss0 = Srr - Gbb[0, 0] * mean**2
    rss2 = Srr - np.einsum("ij,ij->j", g, Gbr)
    fitted_ss = rss0 - rss2  # sum over the data of (fitted - mean)^2
    q = p2 - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        F = (fitted_ss / q) / (rss2 / (n - p2))
        spread = np.sqrt(np.maximum(fitted_ss, 0.0) / n) / mean
    F = np.where(np.isfinite(F), F, 0.0)
    spread = np.where(np.isfinite(spread), spread, 0.0)
    pvals = fdist.sf(F, q, n - p2)
    bad = (pvals * d < ALPHA) & (spread > MAX_DIFFUSION_SPREAD)
    worst = int(np.argmax(np.where(bad, spread, -1.0))) if bad.any() else int(np.argmin(pvals))
    msg = (
        f"constant_diffusion: the squared residuals of x[{worst}] depend on the state (F = "
        f"{F[worst]:.3g} on {q} and {n - p2} degrees of freedom, p = {pvals[worst]:.2g}; the "
        f"fitted noise variance varies by {100 * spread[worst]:.2g}% of its mean); the noise "
        "is multiplicative, but every method assumes a constant diffusion matrix, so the "
        "rate (and its error bar) can be far off"
    )
    return _check("constant_diffusion", not bad.any(), float(spread[worst]),
                  MAX_DIFFUSION_SPREAD, msg if bad.any() else "passed", F=F, spread=spread)


def finish(checks, *, strict: bool, where: str):
    """Warnings of the failed checks; with ``strict`` raise :class:`EstimationError` instead."""
    warnings = tuple(c["message"] for c in checks if not c["passed"])
    if strict and warnings:
        raise EstimationError(
            f"{where} failed {len(warnings)} self-check(s) on this data (strict=True): "
            + " | ".join(warnings)
        )
    return warnings
