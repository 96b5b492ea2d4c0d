"""Deprecated names: each warns, names its replacement and returns the same result."""

import numpy as np
import pytest

import stochthermo as st
from stochthermo import exact, learning, plotting

MODEL = st.LinearLangevin([[1.0, 0.6], [-0.4, 1.5]], [[1.0, 0.0], [0.0, 0.5]])


def test_exact_aliases_match_the_new_names():
    with pytest.warns(DeprecationWarning, match=r"use stochthermo\.exact\.entropy_production "):
        old = exact.entropy_production_rate(MODEL)
    assert old == exact.entropy_production(MODEL) > 0
    with pytest.warns(DeprecationWarning, match=r"use stochthermo\.exact\.information_flow "):
        flows = exact.information_flows(MODEL, blocks=[[0], [1]])
    np.testing.assert_array_equal(flows, exact.information_flow(MODEL, blocks=[[0], [1]]))
    # keywords pass through, and so do their errors
    cov = exact.stationary_covariance(MODEL)
    with pytest.warns(DeprecationWarning):
        assert exact.entropy_production_rate(MODEL, cov=cov) == exact.entropy_production(
            MODEL, cov=cov)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError):
        exact.entropy_production_rate(MODEL, no_such_option=1)


def test_fit_aliases_match_estimate_loglog_slope():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    y = 2.0 * x**-1.2 * np.array([1.01, 0.98, 1.02, 0.99])
    est = st.estimate.loglog_slope(x, y)
    with pytest.warns(DeprecationWarning, match="estimate.loglog_slope"):
        slope, se = learning.fit_loglog_slope(x, y)
    assert (slope, se) == pytest.approx((est.value, est.stderr), rel=1e-12)
    with pytest.warns(DeprecationWarning, match="estimate.loglog_slope"):
        slope, se, icpt = plotting.fit_slope(x, y)
    assert (slope, se, icpt) == pytest.approx(
        (est.value, est.stderr, est.meta["intercept"]), rel=1e-9)
