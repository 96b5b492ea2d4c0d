"""Straight-line fits shared by the estimators, the learning analyses and the bridge."""

from __future__ import annotations

import numpy as np

__all__ = ["loglog_fit"]


def loglog_fit(x, y, yerr=None):
    """Fit ``ln y = a + s ln x``; return ``(s, stderr of s, a)``.

    With ``yerr`` (standard errors of ``y``): weighted least squares, weights
    ``(y / yerr)^2`` (the delta-method variance of ``ln y``), and the slope's standard error from
    those weights. Without it: ordinary least squares with the residual-based standard error
    (``nan`` when there are no degrees of freedom left, i.e. two points).
    """
    lx = np.log(np.asarray(x, dtype=np.float64))
    ly = np.log(np.asarray(y, dtype=np.float64))
    X = np.stack([np.ones_like(lx), lx], axis=1)
    if yerr is not None:
        rel = np.asarray(yerr, dtype=np.float64) / np.asarray(y, dtype=np.float64)
        w = 1.0 / np.maximum(rel, 1e-300) ** 2
        cov = np.linalg.inv(X.T @ (w[:, None] * X))
        coef = cov @ (X.T @ (w * ly))
    else:
        coef, *_ = np.linalg.lstsq(X, ly, rcond=None)
        dof = lx.size - 2
        if dof > 0:
            cov = float(np.sum((ly - X @ coef) ** 2)) / dof * np.linalg.inv(X.T @ X)
        else:
            cov = np.full((2, 2), np.nan)
    se = float(np.sqrt(cov[1, 1])) if np.isfinite(cov[1, 1]) else float("nan")
    return float(coef[1]), se, float(coef[0])
