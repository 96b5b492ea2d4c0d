"""Exact numeric closed forms: identities, special cases, SGD limits and errors."""

import numpy as np
import pytest
import scipy.linalg as sla
from linear_cases import random_diag_diffusion, random_stable

import stochthermo as st
from stochthermo import exact
from stochthermo.errors import ModelError, UnstableModelError, ValidationError

SEEDS = range(6)


def _model(seed, d, blocks=None):
    rng = np.random.default_rng(seed)
    return st.LinearLangevin(random_stable(rng, d), random_diag_diffusion(rng, d), blocks=blocks)


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("seed", SEEDS)
def test_stationary_identities(d, seed):
    m = _model(seed, d)
    C = exact.stationary_covariance(m)
    np.testing.assert_allclose(m.A @ C + C @ m.A.T, 2 * m.D, atol=1e-12 * np.abs(m.D).max())
    sigma = exact.entropy_production(m)
    alt = np.trace(m.A.T @ np.linalg.inv(m.D) @ m.A @ C) - np.trace(m.A)
    assert sigma == pytest.approx(alt, rel=1e-10, abs=1e-12)
    assert sigma >= -1e-12
    sub = exact.subsystem_entropy_production(m)
    heat = exact.heat_rates(m)
    flows = exact.information_flow(m)
    assert np.all(sub >= -1e-12)
    assert sub.sum() == pytest.approx(sigma, rel=1e-10, abs=1e-12)
    assert abs(flows.sum()) <= 1e-10 * max(1.0, np.abs(flows).max())
    np.testing.assert_allclose(sub, heat / m.temperatures - flows, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_three_block_identities(seed):
    rng = np.random.default_rng(100 + seed)
    A = random_stable(rng, 5)
    D = sla.block_diag(0.7 * np.eye(2), [[1.3]], 2.0 * np.eye(2))
    m = st.LinearLangevin(A, D, blocks=[[0, 1], [2], [3, 4]])
    sub = exact.subsystem_entropy_production(m)
    assert sub.sum() == pytest.approx(exact.entropy_production(m), rel=1e-10)
    flows = exact.information_flow(m)
    assert abs(flows.sum()) < 1e-10
    np.testing.assert_allclose(sub, exact.heat_rates(m) / [0.7, 1.3, 2.0] - flows, atol=1e-10)
    # heat with mobility one equals -tr_i(A C M^T)
    C = exact.stationary_covariance(m)
    M = exact.current_matrix(m)
    diag = -np.diag(A @ C @ M.T)
    np.testing.assert_allclose(exact.heat_rates(m), [diag[:2].sum(), diag[2], diag[3:].sum()],
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_transient_identities(seed):
    """Transient: flows sum to dI/dt and sigma_i = Qdot_i/T_i + dS_i/dt - Idot_i."""
    m = _model(seed, 3)
    mean0, cov0 = np.array([1.0, -0.5, 0.3]), 0.2 * np.eye(3)
    t, h = 0.4, 1e-5
    mo = exact.moments(m, [t - h, t, t + h], mean0=mean0, cov0=cov0)
    mean, cov = mo.mean[1], mo.cov[1]
    mi = [exact.mutual_information(m, cov=c) for c in mo.cov[[0, 2]]]
    flows = exact.information_flow(m, mean=mean, cov=cov)
    assert flows.sum() == pytest.approx((mi[1] - mi[0]) / (2 * h), rel=1e-6, abs=1e-8)

    def entropies(c):
        return np.array([0.5 * np.log(2 * np.pi * np.e * c[i, i]) for i in range(3)])

    dS = (entropies(mo.cov[2]) - entropies(mo.cov[0])) / (2 * h)
    sub = exact.subsystem_entropy_production(m, mean=mean, cov=cov)
    heat = exact.heat_rates(m, mean=mean, cov=cov)
    np.testing.assert_allclose(sub, heat / m.temperatures + dS - flows, rtol=1e-6, atol=1e-8)
    assert sub.sum() == pytest.approx(exact.entropy_production(m, mean=mean, cov=cov),
                                      rel=1e-10)


def test_moments_against_lyapunov_ode():
    m = _model(3, 3)
    mo = exact.moments(m, [0.0, 0.5, 50.0], mean0=[1.0, 2.0, 3.0])
    np.testing.assert_allclose(mo.mean[0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(mo.cov[0], 0.0, atol=1e-15)
    np.testing.assert_allclose(mo.cov[2], exact.stationary_covariance(m), rtol=1e-10)
    np.testing.assert_allclose(mo.mean[1], sla.expm(-0.5 * m.A) @ [1.0, 2.0, 3.0], rtol=1e-12)
    # covariance solves C' = -AC - CA^T + 2D: check by a central difference
    h = 1e-5
    mo2 = exact.moments(m, [0.5 - h, 0.5 + h])
    dC = (mo2.cov[1] - mo2.cov[0]) / (2 * h)
    C = exact.moments(m, 0.5).cov[0]
    np.testing.assert_allclose(dC, -m.A @ C - C @ m.A.T + 2 * m.D, atol=1e-7)


def test_detailed_balance_equilibrium_and_gyrator():
    # equilibrium: symmetric A with isotropic D -> detailed balance, zero EP, zero flows
    eq = st.LinearLangevin([[2.0, 0.5], [0.5, 1.0]], 0.7 * np.eye(2))
    db = exact.detailed_balance(eq)
    assert db.holds and db.violation < 1e-12
    assert abs(exact.entropy_production(eq)) < 1e-12
    np.testing.assert_allclose(exact.information_flow(eq), 0.0, atol=1e-12)
    np.testing.assert_allclose(exact.current_matrix(eq), 0.0, atol=1e-12)
    # Brownian gyrator: two temperatures break detailed balance
    k, u, T1, T2 = 1.0, 0.4, 1.0, 3.0
    gy = st.LinearLangevin([[k, u], [u, k]], np.diag([T1, T2]))
    assert not exact.detailed_balance(gy)
    # closed form (theory/linear_langevin.md, gyrator): sigma = u^2 (T1 - T2)^2 / (2 k T1 T2)
    assert exact.entropy_production(gy) == pytest.approx(
        u**2 * (T1 - T2) ** 2 / (2 * k * T1 * T2), rel=1e-12)
    # heat flows from the hot bath to the cold one: Qdot_1 = -Qdot_2 = u^2 (T2 - T1) / (2 k)
    np.testing.assert_allclose(exact.heat_rates(gy),
                               [u**2 * (T2 - T1) / (2 * k), -u**2 * (T2 - T1) / (2 * k)],
                               rtol=1e-12)


def test_rotation_model_closed_form():
    k, w, T = 1.5, 0.8, 0.6
    m = st.LinearLangevin([[k, w], [-w, k]], T * np.eye(2))
    np.testing.assert_allclose(exact.stationary_covariance(m), T / k * np.eye(2), rtol=1e-12,
                               atol=1e-15)
    assert exact.entropy_production(m) == pytest.approx(2 * w**2 / k, rel=1e-12)
    np.testing.assert_allclose(exact.current_matrix(m), [[0, -w], [w, 0]], atol=1e-12)
    np.testing.assert_allclose(exact.information_flow(m), 0.0, atol=1e-12)


def test_sgd_commuting_vs_not():
    H = np.diag([2.0, 0.5])
    comm = st.LinearizedSGD(H, np.diag([1.0, 3.0]), lr=0.05, batch_size=4)
    non = st.LinearizedSGD(H, [[1.0, 0.6], [0.6, 3.0]], lr=0.05, batch_size=4)
    assert exact.detailed_balance(comm).holds
    assert exact.detailed_balance(comm).commutator == 0.0
    assert abs(exact.entropy_production(comm)) < 1e-12
    assert not exact.detailed_balance(non).holds
    assert exact.entropy_production(non) > 1e-3


def _sgd_relative_gap(model_kw, lr):
    m = st.LinearizedSGD(lr=lr, **model_kw)
    Cd = exact.stationary_covariance(m)
    Cc = exact.stationary_covariance(m, continuous=True)
    return np.linalg.norm(Cd - Cc) / np.linalg.norm(Cc)


@pytest.mark.parametrize("momentum", [0.0, 0.6])
def test_sgd_discrete_covariance_tends_to_continuous_first_order(momentum):
    """theory/sgd.md [SGD-rate]: |C_r - C_0| / |C_0| = O(r)."""
    kw = dict(hessian=[[2.0, 0.6], [0.6, 1.0]], grad_noise_cov=[[1.0, 0.0], [0.0, 0.25]],
              batch_size=8, momentum=momentum)
    lrs = np.array([0.02, 0.01, 0.005, 0.0025, 0.00125]) * (1 - momentum)
    gaps = np.array([_sgd_relative_gap(kw, r) for r in lrs])
    slope = np.polyfit(np.log(lrs), np.log(gaps), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.05)
    # the leading coefficient: C_r = r C_1 + r^2 C_2, H C_2 + C_2 H = H C_1 H (no momentum)
    if momentum == 0.0:
        H = np.array(kw["hessian"])
        S = np.array(kw["grad_noise_cov"]) / kw["batch_size"]
        C1 = sla.solve_continuous_lyapunov(H, S)
        C2 = sla.solve_continuous_lyapunov(H, H @ C1 @ H)
        r = 1e-3
        m = st.LinearizedSGD(lr=r, **kw)
        pred = r * C1 + r**2 * C2
        err = np.linalg.norm(exact.stationary_covariance(m) - pred) / np.linalg.norm(pred)
        assert err < 5 * r**2


def test_sgd_discrete_matches_iteration():
    """The exact discrete covariance is the fixed point of the moment recursion."""
    m = st.LinearizedSGD([[1.5, 0.2], [0.2, 0.7]], [[1.0, 0.3], [0.3, 0.5]], lr=0.3,
                         batch_size=2, momentum=0.5, dataset_size=10)
    C = exact.stationary_covariance(m, augmented=True)
    P = m.update_matrix()
    Q = np.zeros((4, 4))
    Q[:2, :2] = m.lr**2 * m.noise_cov
    np.testing.assert_allclose(P @ C @ P.T + Q, C, rtol=1e-10, atol=1e-14)
    mo = exact.moments(m, [0, 2000], mean0=[1.0, 1.0])
    np.testing.assert_allclose(mo.cov[1], C[:2, :2], rtol=1e-8)
    np.testing.assert_allclose(mo.mean[0], [1.0, 1.0])


def test_sgd_unstable_lr():
    m = st.LinearizedSGD(np.diag([3.0, 1.0]), np.eye(2), lr=0.7, batch_size=1)
    with pytest.raises(UnstableModelError, match="spectral radius"):
        exact.stationary_covariance(m)


def test_mutual_information_forms():
    C = np.array([[2.0, 0.6, 0.1], [0.6, 1.0, 0.3], [0.1, 0.3, 1.5]])
    two = exact.mutual_information(cov=C, blocks=[[0], [1, 2]])
    ref = 0.5 * np.log(C[0, 0] * np.linalg.det(C[1:, 1:]) / np.linalg.det(C))
    assert two == pytest.approx(ref, rel=1e-12)
    pw = exact.mutual_information(cov=C, blocks=[1, 1, 1], pairwise=True)
    assert pw[0, 1] == pytest.approx(-0.5 * np.log(1 - 0.6**2 / 2.0), rel=1e-12)
    assert abs(exact.mutual_information(cov=np.diag([1.0, 2.0]), blocks=[1, 1])) < 1e-15
    with pytest.raises(ValidationError, match="blocks= is required"):
        exact.mutual_information(cov=C)


def test_stationary_logpdf():
    m = _model(1, 2)
    C = exact.stationary_covariance(m)
    x = np.array([[0.3, -0.2], [1.0, 0.5]])
    from scipy.stats import multivariate_normal

    np.testing.assert_allclose(exact.stationary_logpdf(m, x),
                               multivariate_normal(np.zeros(2), C).logpdf(x), rtol=1e-12)
    with pytest.raises(st.errors.ShapeError, match=r"x must have shape \(\.\.\., 2\)"):
        exact.stationary_logpdf(m, np.zeros(3))


def test_errors_for_non_bipartite_and_singular():
    coupled = st.LinearLangevin(np.eye(2), [[1.0, 0.5], [0.5, 1.0]])
    with pytest.raises(ModelError, match="bipartite"):
        exact.heat_rates(coupled)
    assert exact.heat_rates(coupled, blocks=[[0, 1]]).shape == (1,)
    singular = st.LinearLangevin([[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ModelError, match="D is singular"):
        exact.entropy_production(singular)
    with pytest.raises(ValidationError, match="LinearLangevin or LinearizedSGD"):
        exact.entropy_production("not a model")
    with pytest.raises(ValidationError, match="mean= was given without cov="):
        exact.entropy_production(coupled, mean=[0.0, 0.0])
