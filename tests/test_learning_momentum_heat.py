"""Heat of the parameters with momentum: kinetic energy in the first law, per trajectory."""

from __future__ import annotations

import numpy as np
import pytest

from stochthermo.errors import ValidationError
from stochthermo.learning import GaussianMean, LinearRegression, learn, step_decay

KW = dict(batch_size=2, n_steps=40, n_trials=6, seed=4, init=[3.0],
          record=("params", "loss", "heat_theta"))


@pytest.mark.parametrize("lr", [0.1, step_decay(0.2, factor=0.5, every=7)])
@pytest.mark.parametrize("method", ["replacement", "gaussian"])
def test_first_law_with_momentum_quadratic(lr, method):
    data = np.random.default_rng(0).normal(1.0, 1.0, 20)
    ens = learn(GaussianMean(std=1.0), data, lr=lr, momentum=0.7, method=method, **KW)
    res = ens.parameter_first_law_residual()
    scale = np.abs(ens.heat_theta).sum(axis=1)
    assert np.all(res < 1e-10 * (1 + scale))
    K = ens.kinetic_energy()
    assert K.shape == (6, 41) and np.all(K[:, 0] == 0)
    # control: leaving the kinetic energy out of the balance (U_B alone) fails it
    old = np.abs(ens.loss[:, -1] - ens.loss[:, 0] + ens.heat_theta.sum(axis=1))
    assert np.all(old > 1e3 * (res + 1e-14))


def test_without_momentum_heat_is_minus_the_loss_change():
    data = np.random.default_rng(1).normal(0.0, 1.0, 20)
    kw = dict(KW, init=[2.0])
    ens = learn(GaussianMean(std=1.0), data, lr=0.1, **kw)
    np.testing.assert_allclose(ens.heat_theta.sum(axis=1), ens.loss[:, 0] - ens.loss[:, -1],
                               rtol=1e-10)
    assert np.all(ens.parameter_first_law_residual() < 1e-10)


def test_first_law_with_momentum_linear_regression():
    rng = np.random.default_rng(2)
    U = rng.standard_normal((30, 3))
    Y = U @ np.array([1.0, -0.5, 0.2]) + 0.3 * rng.standard_normal(30)
    ens = learn(LinearRegression(n_in=3, std=1.0), (U, Y), lr=0.05, momentum=0.5,
                batch_size=5, n_steps=30, n_trials=4, seed=3, init=np.ones(4),
                record=("params", "loss", "heat_theta"))
    scale = np.abs(ens.heat_theta).sum(axis=1)
    assert np.all(ens.parameter_first_law_residual() < 1e-10 * (1 + scale))


def test_first_law_needs_every_step():
    data = np.zeros(10)
    ens = learn(GaussianMean(), data, lr=0.1, momentum=0.5, batch_size=2, n_steps=6,
                record=("params", "loss", "heat_theta"), record_every=3, seed=0)
    with pytest.raises(ValidationError, match="record_every=1"):
        ens.parameter_first_law_residual()
    ens = learn(GaussianMean(), data, lr=0.1, batch_size=2, n_steps=6, seed=0,
                record=("params", "loss"))
    with pytest.raises(ValidationError, match="heat_theta"):
        ens.parameter_first_law_residual()
