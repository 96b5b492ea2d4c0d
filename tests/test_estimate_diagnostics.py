"""Self-checks of the entropy-production estimators: warnings, strict mode, Estimate.warnings."""

import json

import numpy as np
import pytest
from naive_est import equilibrium_2d, nonequilibrium_2d, ou_ensemble

from stochthermo import exact
from stochthermo.errors import EstimationError
from stochthermo.estimate import entropy_production
from stochthermo.models.linear import LinearLangevin
from stochthermo.results import Estimate, to_jsonable

METHODS = ["linear", "current", "tur", "inference"]


def test_estimate_warnings_field():
    old = Estimate(1.0, 0.1, "m", {"a": 1}, 0.0)  # positional calls keep working
    assert old.warnings == () and old.ok
    e = Estimate(1.0, 0.1, "m", {}, warnings=["too coarse"])
    assert e.warnings == ("too coarse",) and not e.ok
    assert "too coarse" in repr(e) and "too coarse" in str(e)
    d = to_jsonable(e)
    assert d["warnings"] == ["too coarse"]
    json.dumps(d)
    with pytest.raises(AttributeError):
        e.warnings = ()


@pytest.fixture(scope="module")
def aliased():
    # omega tau = 4 > pi: the principal logarithm picks the wrong branch (true rate 200)
    m = LinearLangevin([[1.0, 10.0], [-10.0, 1.0]], np.eye(2))
    return m, ou_ensemble(m, n_traj=100, n_time=200, tau=0.4, seed=1)


@pytest.mark.parametrize("method", METHODS)
def test_aliasing_warns(aliased, method):
    m, x = aliased
    assert exact.entropy_production(m) == pytest.approx(200.0)
    est = entropy_production(x, method=method, dt=0.4)
    assert abs(est.zscore(200.0)) > 5  # a confident wrong answer ...
    assert any(w.startswith("aliasing") for w in est.warnings)  # ... that says so
    assert est.meta["diagnostics"]["aliasing"]["passed"] is False


@pytest.fixture(scope="module")
def relaxing():
    m = nonequilibrium_2d()
    x = ou_ensemble(m, n_traj=400, n_time=200, tau=0.02, seed=2, mean0=[2.0, 1.0],
                    cov0=0.05 * np.eye(2))
    return m, x


@pytest.mark.parametrize("method", METHODS)
def test_non_stationary_warns(relaxing, method):
    _, x = relaxing
    est = entropy_production(x, method=method, dt=0.02)
    assert any(w.startswith("stationarity") for w in est.warnings)
    assert "timeresolved" in est.warnings[0]


@pytest.fixture(scope="module")
def stationary():
    m = LinearLangevin([[1.0, 0.7], [-0.3, 2.0]], np.diag([0.5, 1.5]))
    return m, ou_ensemble(m, n_traj=200, n_time=1500, tau=0.002, seed=3)


@pytest.mark.parametrize("method", METHODS)
def test_clean_linear_data_has_no_warning(stationary, method):
    m, x = stationary
    est = entropy_production(x, method=method, dt=0.002)
    assert est.warnings == ()
    assert abs(est.zscore(exact.entropy_production(m))) < 3
    diags = est.meta["diagnostics"]
    assert {"stationarity", "aliasing", "data"} <= set(diags)
    assert all(c["passed"] for c in diags.values())
    json.dumps(to_jsonable(est))


def test_equilibrium_has_no_warning():
    m = equilibrium_2d()
    x = ou_ensemble(m, n_traj=200, n_time=1500, tau=0.002, seed=4)
    for method in METHODS:
        est = entropy_production(x, method=method, dt=0.002)
        assert est.warnings == (), (method, est.warnings)
        assert abs(est.value) < 3 * est.stderr


def test_strict_raises(aliased, stationary):
    _, x = aliased
    with pytest.raises(EstimationError, match="strict=True.*aliasing"):
        entropy_production(x, method="linear", dt=0.4, strict=True)
    _, xs = stationary
    assert entropy_production(xs, method="linear", dt=0.002, strict=True).warnings == ()


def test_diagnostics_off(aliased):
    _, x = aliased
    est = entropy_production(x, method="linear", dt=0.4, diagnostics=False)
    assert est.warnings == () and "diagnostics" not in est.meta


def test_too_little_data_warns():
    m = nonequilibrium_2d()
    x = ou_ensemble(m, n_traj=4, n_time=40, tau=0.02, seed=5)
    est = entropy_production(x, method="linear", dt=0.02, n_groups=4)
    assert any(w.startswith("too little data") for w in est.warnings)


def test_coarse_current_warns_discretisation():
    # current/TUR carry an O(|A| tau) bias: at tau = 0.2 it is large and detected at 2 tau
    m = nonequilibrium_2d()
    x = ou_ensemble(m, n_traj=200, n_time=400, tau=0.2, seed=6)
    truth = exact.entropy_production(m)
    for method in ("current", "tur"):
        est = entropy_production(x, method=method, dt=0.2)
        assert abs(est.zscore(truth)) > 5
        assert any(w.startswith("discretisation") for w in est.warnings)
    lin = entropy_production(x, method="linear", dt=0.2)
    assert abs(lin.zscore(truth)) < 3 and lin.warnings == ()


def test_timeresolved_checks(aliased):
    from stochthermo.estimate import entropy_production_timeresolved

    _, x = aliased
    est = entropy_production_timeresolved(x, dt=0.4, window=40)
    assert any(w.startswith("aliasing") for w in est.warnings)
    with pytest.raises(EstimationError, match="aliasing"):
        entropy_production_timeresolved(x, dt=0.4, window=40, strict=True)
    m = nonequilibrium_2d()
    xs = ou_ensemble(m, n_traj=200, n_time=81, tau=0.02, seed=9, mean0=[1.0, 0.5],
                     cov0=0.05 * np.eye(2))
    assert entropy_production_timeresolved(xs, dt=0.02, window=10).warnings == ()
