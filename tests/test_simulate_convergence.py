"""Strong and weak convergence order on nested dt grids that share one Brownian path.

Coarse increments are sums of fine ones (``z_coarse = sum z_fine / sqrt(k)``), so every
scheme sees the same Brownian path; the order is the slope of log error against log dt.
Orders for additive noise (``stochthermo.simulation.METHODS``): Euler strong 1 / weak 1, Heun
strong 1 / weak 2.
"""

import numpy as np
import pytest

import stochthermo as st
from stochthermo.models.nonlinear import double_well
from stochthermo.simulation import METHODS, simulate

OU = st.LinearLangevin([[1.0]], [[0.5]])


def _coarsen(z, k):
    n_traj, n, m = z.shape
    return z.reshape(n_traj, n // k, k, m).sum(axis=2) / np.sqrt(k)


def _final(model, method, z, T, x0):
    n = z.shape[1]
    ens = simulate(model, n_traj=z.shape[0], n_steps=n, dt=T / n, method=method, x0=x0,
                   _noise=z, save_every=n)
    return ens.x[:, -1, 0]


def _errors(model, method, ref_method, ks, *, n_traj, n_fine, T, x0, f, seed):
    z = np.random.default_rng(seed).standard_normal((n_traj, n_fine, 1))
    ref = _final(model, ref_method, z, T, x0)
    hs, strong, weak = [], [], []
    for k in ks:
        xh = _final(model, method, _coarsen(z, k), T, x0)
        hs.append(T * k / n_fine)
        strong.append(np.mean(np.abs(xh - ref)))
        weak.append(abs(np.mean(f(xh) - f(ref))))
    return np.array(hs), np.array(strong), np.array(weak)


def _slope(h, e):
    return np.polyfit(np.log(h), np.log(e), 1)[0]


def test_euler_strong_and_weak_order_ou():
    h, strong, weak = _errors(OU, "euler", "heun", [16, 32, 64, 128], n_traj=2000, n_fine=2048,
                              T=1.0, x0=[0.0], f=np.square, seed=1)
    assert abs(_slope(h, strong) - METHODS["euler"][0]) < 0.15
    assert abs(_slope(h, weak) - METHODS["euler"][1]) < 0.15


@pytest.mark.slow
def test_heun_strong_and_weak_order_ou():
    h, strong, _ = _errors(OU, "heun", "heun", [16, 32, 64, 128], n_traj=2000, n_fine=4096,
                           T=1.0, x0=[0.0], f=np.square, seed=2)
    assert abs(_slope(h, strong) - METHODS["heun"][0]) < 0.15
    # weak: the exact transition on the fine grid has the exact law, so it is an unbiased
    # reference; x0 = 1 so both the mean and the variance carry the O(h^2) error
    h, _, weak = _errors(OU, "heun", "exact", [4, 8, 16, 32], n_traj=200_000, n_fine=128,
                         T=1.0, x0=[1.0], f=np.square, seed=3)
    assert abs(_slope(h, weak) - METHODS["heun"][1]) < 0.15


@pytest.mark.slow
@pytest.mark.parametrize("method", ["euler", "heun"])
def test_strong_and_weak_order_double_well(method):
    dw = double_well(1.0, 0.5)
    h, strong, weak = _errors(dw, method, "heun", [8, 16, 32, 64], n_traj=4000, n_fine=4096,
                              T=1.0, x0=[0.3], f=np.square, seed=4)
    assert abs(_slope(h, strong) - METHODS[method][0]) < 0.15
    if method == "euler":
        assert abs(_slope(h, weak) - METHODS[method][1]) < 0.15
