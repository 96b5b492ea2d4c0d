"""Information flow estimators against stochthermo.exact.information_flow."""

import numpy as np
import pytest
from naive_est import nonequilibrium_2d, ou_ensemble, three_block

from stochthermo import exact
from stochthermo.errors import EstimationError, ValidationError
from stochthermo.estimate import information_flow

TAU = 0.02


@pytest.fixture(scope="module")
def three():
    m = three_block()
    return m, ou_ensemble(m, n_traj=200, n_time=500, tau=TAU, seed=21)


@pytest.mark.parametrize("method", ["gaussian", "lagged"])
def test_three_block_flows(three, method):
    m, x = three
    truth = exact.information_flow(m)
    est = information_flow(x, blocks=[1, 1, 1], dt=TAU, method=method)
    assert est.value.shape == (3,)
    assert np.all(np.abs(est.zscore(truth)) < 3)
    # the flows are resolved, not just consistent with anything
    assert abs(est.value[0]) > 3 * est.stderr[0]


def test_two_blocks_grouped(three):
    m, x = three
    truth = exact.information_flow(m, blocks=[[0, 2], [1]])
    est = information_flow(x, blocks=[[0, 2], [1]], dt=TAU)
    assert np.all(np.abs(est.zscore(truth)) < 3)


@pytest.mark.parametrize("method", ["gaussian", "lagged"])
def test_symmetric_rotation_has_no_flow(method):
    # null control: the isotropic rotation has a current but no information flow
    m = nonequilibrium_2d()
    assert np.allclose(exact.information_flow(m), 0.0)
    x = ou_ensemble(m, n_traj=200, n_time=400, tau=TAU, seed=4)
    est = information_flow(x, blocks=[1, 1], dt=TAU, method=method)
    assert np.all(np.abs(est.value) < 3 * est.stderr)


def test_transient_flows_at_a_time():
    m = three_block()
    mean0, cov0 = [1.0, -0.5, 0.5], 0.1 * np.eye(3)
    x = ou_ensemble(m, n_traj=3000, n_time=60, tau=TAU, seed=8, mean0=mean0, cov0=cov0)
    j = 10
    mo = exact.moments(m, [TAU * j], mean0=mean0, cov0=cov0)
    truth = exact.information_flow(m, mean=mo.mean[0], cov=mo.cov[0])
    est = information_flow(x, blocks=[1, 1, 1], dt=TAU, time=j)
    assert np.all(np.abs(est.zscore(truth)) < 3)
    # the transient flows differ from the steady-state ones
    steady = exact.information_flow(m)
    assert np.any(np.abs(est.zscore(steady)) > 3)


def test_bad_input():
    x = np.random.default_rng(0).standard_normal((40, 20, 2))
    with pytest.raises(EstimationError, match="one subsystem"):
        information_flow(x, blocks=[2], dt=0.1)
    with pytest.raises(ValidationError, match="not a partition"):
        information_flow(x, blocks=[[0], [0]], dt=0.1)
    with pytest.raises(ValidationError, match="unknown method='mi'"):
        information_flow(x, blocks=[1, 1], dt=0.1, method="mi")
