"""The shared statistics (estimators/_stats): jackknife, Gaussian MI, log-log fit, log-softmax."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from stochthermo import estimate
from stochthermo.errors import InsufficientDataError, ShapeError, ValidationError
from stochthermo.estimators import _stats
from stochthermo.learning import gaussian_mi as learning_gaussian_mi


def test_jackknife_of_a_mean_is_the_standard_error():
    """Delete-one jackknife of a mean: exactly s / sqrt(n), no bias; both forms agree."""
    x = np.random.default_rng(0).normal(size=(37, 2))
    sem = x.std(axis=0, ddof=1) / np.sqrt(37)
    value, se, bias, full = _stats.jackknife_groups(lambda i: x[i].mean(axis=0), np.arange(37))
    np.testing.assert_allclose(se, sem, rtol=1e-12)
    np.testing.assert_allclose(bias, 0.0, atol=1e-14)
    np.testing.assert_array_equal(value, full)
    # the additive form: sums and counts per group
    stats = (x, np.ones((37, 1)))
    v2, se2, b2, _ = _stats.jackknife(stats, lambda t: t[0] / t[1], second_order=False)
    np.testing.assert_allclose(v2, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(se2, sem, rtol=1e-12)


def test_jackknife_removes_the_bias_of_the_plug_in_variance():
    """Plug-in variance (ddof 0) has bias -sigma^2/n; the jackknife returns the ddof-1 value."""
    x = np.random.default_rng(1).normal(size=50)
    value, _, bias, full = _stats.jackknife_groups(lambda i: x[i].var(), np.arange(50),
                                                   bias_correct=True)
    assert value == pytest.approx(x.var(ddof=1), rel=1e-12)
    assert full == pytest.approx(x.var(), rel=1e-15)
    # one group only: no error bar
    _, se, b, _ = _stats.jackknife_groups(lambda i: x[i].var(), np.zeros(50, int))
    assert np.isnan(se) and np.isnan(b)


def test_gaussian_mi_one_implementation():
    """Estimate and learning wrappers give the same bias-corrected value; closed form in 3 s.e."""
    rng = np.random.default_rng(2)
    rho, n = 0.6, 4000
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    truth = -0.5 * np.log(1 - rho**2)
    est = estimate.mutual_information(a, b, method="gaussian")
    learn_est = learning_gaussian_mi(a, b)
    assert learn_est.value == pytest.approx(est.value, rel=1e-12)
    assert learn_est.bias == pytest.approx(est.bias, rel=1e-12)
    assert abs(est.value - truth) < 3 * est.stderr
    assert abs(learn_est.value - truth) < 3 * learn_est.stderr
    # the bias is the Wishart one, 1/2 [f(1) + f(1) - f(2)] for one column each
    assert est.bias == pytest.approx(_stats.gaussian_mi_bias(n, 1, 1), rel=1e-15)
    assert est.bias > 0
    # null control: independent columns
    null = learning_gaussian_mi(a, rng.normal(size=n))
    assert abs(null.value) < 3 * null.stderr


def test_gaussian_mi_singular_block_is_flagged():
    a = np.random.default_rng(3).normal(size=(100, 1))
    S = np.cov(np.hstack([a, 2 * a]), rowvar=False)
    _, _, singular = _stats.gaussian_mi_cov(S, 100, 1, 1)
    assert singular


def test_loglog_slope_against_curve_fit():
    rng = np.random.default_rng(4)
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    y = 2.0 * x**-0.75 * np.exp(rng.normal(0.0, 0.05, x.size))
    yerr = 0.05 * y
    for absolute in (True, False):
        est = estimate.loglog_slope(x, y, yerr=yerr, absolute_sigma=absolute)
        popt, pcov = curve_fit(lambda lx, a, s: a + s * lx, np.log(x), np.log(y),
                               sigma=yerr / y, absolute_sigma=absolute)
        assert est.value == pytest.approx(popt[1], rel=1e-9)
        assert est.stderr == pytest.approx(np.sqrt(pcov[1, 1]), rel=1e-6)
        assert est.meta["intercept"] == pytest.approx(popt[0], rel=1e-9)
        assert abs(est.value + 0.75) < 3 * est.stderr
    # exact power law, unweighted; null control: a constant has slope 0
    assert estimate.loglog_slope(x, 3 * x**1.5).value == pytest.approx(1.5, abs=1e-12)
    flat = estimate.loglog_slope(x, np.exp(rng.normal(0.0, 0.05, x.size)))
    assert abs(flat.value) < 3 * flat.stderr
    # two points: no residual left, no error bar
    assert np.isnan(estimate.loglog_slope(x[:2], y[:2]).stderr)


def test_loglog_slope_refuses_bad_input():
    with pytest.raises(ValidationError, match="y has a value <= 0"):
        estimate.loglog_slope([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValidationError, match="yerr has a value <= 0"):
        estimate.loglog_slope([1.0, 2.0], [1.0, 2.0], yerr=[0.1, 0.0])
    with pytest.raises(ShapeError, match="y has 2 values but x has 3"):
        estimate.loglog_slope([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(InsufficientDataError, match="at least 2"):
        estimate.loglog_slope([2.0, 2.0], [1.0, 3.0])
    with pytest.raises(ValidationError):
        estimate.loglog_slope([1.0, np.nan], [1.0, 2.0])


def test_log_softmax_is_stable_and_normalised():
    z = np.array([[1000.0, 0.0, -1000.0], [0.1, 0.2, 0.3]])
    lp = _stats.log_softmax(z)
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(np.exp(lp).sum(axis=-1), 1.0, rtol=1e-14)
    small = z[1]
    np.testing.assert_allclose(lp[1], small - np.log(np.exp(small).sum()), rtol=1e-14)


def test_every_layer_uses_the_shared_statistics():
    """One implementation each: the bridge, the PPMs and the learning wrappers call _stats."""
    from stochthermo.bridge import _diagnostics, _mlp
    from stochthermo.learning import _analysis, _ppm
    from stochthermo.plotting import _plots

    assert _mlp.log_softmax is _stats.log_softmax
    assert _ppm._log_softmax is _stats.log_softmax
    assert _diagnostics.loglog_fit is _analysis.loglog_fit is _plots.loglog_fit is _stats.loglog_fit
    from stochthermo.estimators import _common

    assert _common.jackknife is _stats.jackknife
