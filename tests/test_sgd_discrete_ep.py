"""Exact discrete-time entropy production of linearized SGD (path KL of the AR(1) map)."""

import numpy as np
import pytest
import scipy.linalg as sla

from stochthermo import exact, simulate
from stochthermo._exact_discrete import ar1_entropy_production
from stochthermo.errors import ModelError, ValidationError
from stochthermo.models.linear import LinearizedSGD

H2 = np.array([[1.0, 0.3], [0.3, 2.0]])
S2 = np.array([[1.0, 0.0], [0.0, 0.5]])


def _block_kl(P, Q):
    """KL between the forward and reversed pair laws, from the 2d x 2d covariances."""
    C = sla.solve_discrete_lyapunov(P, Q)
    d = P.shape[0]
    Sf = np.block([[C, C @ P.T], [P @ C, C]])
    Sr = np.block([[C, P @ C], [C @ P.T, C]])
    return 0.5 * (np.trace(np.linalg.solve(Sr, Sf)) - 2 * d)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_formula_against_block_covariances(seed):
    rng = np.random.default_rng(seed)
    d = 3
    P = 0.3 * rng.normal(size=(d, d))
    B = rng.normal(size=(d, d))
    Q = B @ B.T + 0.2 * np.eye(d)
    kl = ar1_entropy_production(P, Q)
    assert kl > 0
    assert kl == pytest.approx(_block_kl(P, Q), rel=1e-10)
    # the theory contract's form 1/2 [tr(Q^-1 M) - d], M = (I - P^2) C (I - P^2)^T + P Q P^T
    C = sla.solve_discrete_lyapunov(P, Q)
    K = np.eye(d) - P @ P
    M = K @ C @ K.T + P @ Q @ P.T
    assert kl == pytest.approx(0.5 * (np.trace(np.linalg.solve(Q, M)) - d), rel=1e-10)


def test_commuting_control_is_zero():
    m = LinearizedSGD(np.diag([1.0, 2.0]), np.diag([0.5, 3.0]), lr=0.1, batch_size=2)
    assert abs(exact.entropy_production(m, discrete=True)) < 1e-12
    # the same Hessian with a rotated noise covariance breaks detailed balance
    R = np.array([[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])
    m2 = LinearizedSGD(np.diag([1.0, 2.0]), R @ np.diag([0.5, 3.0]) @ R.T, lr=0.1, batch_size=2)
    assert exact.entropy_production(m2, discrete=True) > 1e-3


def test_tends_to_continuous_rate_first_order():
    lrs = np.array([0.08, 0.04, 0.02, 0.01, 0.005])
    cont = exact.entropy_production(LinearizedSGD(H2, S2, lr=0.01, batch_size=4))
    gaps = []
    for lr in lrs:
        m = LinearizedSGD(H2, S2, lr=lr, batch_size=4)
        assert exact.entropy_production(m) == pytest.approx(cont)  # lr-free limit
        gaps.append(abs(exact.entropy_production(m, discrete=True) - cont))
    slope = np.polyfit(np.log(lrs), np.log(gaps), 1)[0]
    assert abs(slope - 1.0) < 0.05  # O(lr): the discrete map is Euler's to first order


def test_matches_monte_carlo_path_kl():
    # <ln p(theta, theta') - ln p(theta', theta)> over simulated stationary steps
    from scipy.stats import multivariate_normal

    m = LinearizedSGD(H2, np.array([[1.0, -0.6], [-0.6, 0.5]]), lr=0.3, batch_size=1)
    kl = exact.entropy_production(m, discrete=True) * m.lr
    ens = simulate(m, n_traj=200, n_steps=200, x0="stationary", seed=3)
    x = ens.x
    pairs = np.concatenate([x[:, :-1], x[:, 1:]], axis=2).reshape(-1, 4)
    rev = np.concatenate([x[:, 1:], x[:, :-1]], axis=2).reshape(-1, 4)
    P, Q = m.update_matrix(), m.lr**2 * m.noise_cov
    C = sla.solve_discrete_lyapunov(P, Q)
    Sf = np.block([[C, C @ P.T], [P @ C, C]])
    law = multivariate_normal(np.zeros(4), Sf)
    s = law.logpdf(pairs) - law.logpdf(rev)
    per_traj = s.reshape(200, -1).mean(axis=1)  # trajectories are independent
    mc, se = per_traj.mean(), per_traj.std(ddof=1) / np.sqrt(200)
    assert abs(mc - kl) < 3 * se
    assert se < 0.2 * kl


def test_refusals():
    m = LinearizedSGD(H2, S2, lr=0.1, batch_size=4, momentum=0.5)
    with pytest.raises(ModelError, match="momentum=0"):
        exact.entropy_production(m, discrete=True)
    sing = LinearizedSGD(H2, np.diag([1.0, 0.0]), lr=0.1, batch_size=4)
    with pytest.raises(ModelError, match="singular"):
        exact.entropy_production(sing, discrete=True)
    with pytest.raises(ValidationError, match="LinearizedSGD"):
        exact.entropy_production(m.to_langevin(), discrete=True)


def test_symbolic_matches_numeric():
    from stochthermo.symbolic import derive_sgd_discrete

    d = derive_sgd_discrete("[[1, a], [a, 2]]", "[[1, 0], [0, s]]", "r", "b")
    num = exact.entropy_production(LinearizedSGD(H2, S2, lr=0.1, batch_size=4),
                                        discrete=True)
    assert d.evaluate(a=0.3, s=0.5, r=0.1, b=4) == pytest.approx(num, rel=1e-10)
    import sympy as sp

    # commuting (a = 0 or s = 1) gives exactly zero; the r -> 0 limit is the continuous rate
    sym = {str(v): v for v in d.symbols}
    assert sp.simplify(d.rate.subs(sym["a"], 0)) == 0
    assert sp.simplify(d.rate.subs(sym["s"], 1)) == 0
    lim = float(sp.limit(d.rate, sym["r"], 0).subs({sym["a"]: 0.3, sym["s"]: 0.5}))
    cont = exact.entropy_production(LinearizedSGD(H2, S2, lr=0.1, batch_size=4))
    assert lim == pytest.approx(cont, rel=1e-10)
    assert derive_sgd_discrete("[[1, 0], [0, 2]]", "[[1, 0], [0, 3]]", "r", 4).rate == 0
