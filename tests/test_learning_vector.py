"""The vector linear-Gaussian learner: closed forms against an independent propagation,
against simulation, and the parameter reservoir's second law."""

import math

import numpy as np
import pytest

from stochthermo.errors import ShapeError, ValidationError
from stochthermo.learning import CLOSED_FORM_KEYS, GaussianLearner
from stochthermo.learning._gaussian import RESERVOIR_KEYS


def _spd(rng, d, scale=1.0, aniso=4.0):
    """A random anisotropic SPD matrix with condition number about ``aniso``."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return scale * (q * np.linspace(1.0, aniso, d)) @ q.T


def _learner(d, seed, **kw):
    rng = np.random.default_rng(seed)
    S = _spd(rng, d, 1.0, 3.0)
    args = dict(mu=rng.normal(size=d), data_cov=_spd(rng, d, 0.8, 5.0), model_cov=S,
                init_cov=_spd(rng, d, 0.4, 2.0), init_mean=rng.normal(size=d), n_data=7,
                batch_size=3, lr=0.6 * np.linalg.eigvalsh(S).min())
    args.update(kw)
    return GaussianLearner(**args)


def _ld(c):
    return np.linalg.slogdet(c)[1]


def _gmi(C, i, j):
    """Gaussian MI between index sets i and j of covariance C."""
    ij = np.concatenate([i, j])
    return 0.5 * (_ld(C[np.ix_(i, i)]) + _ld(C[np.ix_(j, j)]) - _ld(C[np.ix_(ij, ij)]))


def _unrolled(g, t):
    """Moments of theta_t by explicit sums over the noise history (no recursion)."""
    d = g.dim
    S = g.model_cov_matrix
    K = g.lr * np.linalg.inv(S)
    A = np.eye(d) - K
    Sb = g.data_cov_matrix / g.n_data
    D = g.data_cov_matrix / g.batch_size
    At = np.linalg.matrix_power(A, t)
    Ct = np.eye(d) - At
    noise = sum((np.linalg.matrix_power(A, j) @ K @ D @ K.T @ np.linalg.matrix_power(A, j).T
                 for j in range(t)), np.zeros((d, d)))
    V = At @ g.init_cov_matrix @ At.T + noise
    e = Ct @ Sb  # Cov(theta_t, Bbar)
    W = V + Ct @ Sb @ Ct.T
    M = At @ g.init_mean_vector + Ct @ g.mean_vector
    return dict(K=K, A=A, Sb=Sb, D=D, V=V, e=e, W=W, M=M, S=S)


def _joint(g, t):
    """Mean and covariance of (Bbar, theta_t, X_{t+1}, theta_{t+1}, X_{t+2}), written out."""
    u = _unrolled(g, t)
    K, A, Sb, D, W, e, S, M = (u[k] for k in ("K", "A", "Sb", "D", "W", "e", "S", "M"))
    mu = g.mean_vector
    # theta_{t+1} = A theta + K Bbar + K xi
    W1 = A @ W @ A.T + K @ (Sb + D) @ K.T + A @ e @ K.T + K @ e.T @ A.T
    e1 = A @ e + K @ Sb
    c01 = W @ A.T + e @ K.T  # Cov(theta_t, theta_{t+1})
    blocks = [[Sb, e.T, e.T, e1.T, e1.T],
              [e, W, W, c01, c01],
              [e, W, W + S, c01, c01],
              [e1, c01.T, c01.T, W1, W1],
              [e1, c01.T, c01.T, W1, W1 + S]]
    C = np.block(blocks)
    M1 = A @ M + K @ mu
    mean = np.concatenate([mu, M, M, M1, M1])
    return mean, C, u


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_closed_form_matches_independent_propagation(d):
    g = _learner(d, seed=d)
    ts = [0, 1, 4, 11]
    cf = g.closed_form(np.array(ts))
    for j, t in enumerate(ts):
        mean, C, u = _joint(g, t)
        ix = [np.arange(k * d, (k + 1) * d) for k in range(5)]
        iB, iT, iX, iT1, iX2 = ix
        Sinv = np.linalg.inv(u["S"])
        np.testing.assert_allclose(cf["var_theta"][j], u["W"], atol=1e-12)
        np.testing.assert_allclose(cf["var_theta_given_b"][j], u["V"], atol=1e-12)
        np.testing.assert_allclose(cf["mean_theta"][j], u["M"], atol=1e-12)
        exact = {
            "m_info": 0.5 * (_ld(u["W"]) - _ld(u["V"])) if t else 0.0,
            "l_info": 0.5 * (_ld(u["W"] + u["S"]) - _ld(u["V"] + u["S"])) if t else 0.0,
            "i_x_theta": 0.5 * (_ld(u["W"] + u["S"]) - _ld(u["S"])),
            "entropy_theta": 0.5 * (d * math.log(2 * math.pi * math.e) + _ld(u["W"])),
            "entropy_theta_given_b": 0.5 * (d * math.log(2 * math.pi * math.e) + _ld(u["V"])),
            "info_flow_theta": _gmi(C, iX, iT1) - _gmi(C, iX, iT),
            "info_flow_x": _gmi(C, iX2, iT1) - _gmi(C, iX, iT1),
        }
        # work: E delta^T S^-1 delta / 2 with delta = K (Bbar + xi - theta)
        dm = u["M"] - g.mean_vector
        cu = u["W"] + u["Sb"] - u["e"] - u["e"].T  # Cov(theta - Bbar)
        Ed = u["K"] @ (cu + u["D"] + np.outer(dm, dm)) @ u["K"].T
        exact["work"] = 0.5 * np.trace(Sinv @ Ed)
        exact["heat"] = -exact["work"]
        # parameter heat: -(U_B(theta_{t+1}) - U_B(theta_t)), u' = A u + K xi
        A = u["A"]
        eu0 = np.trace(Sinv @ cu) + dm @ Sinv @ dm
        eu1 = (np.trace(Sinv @ (A @ cu @ A.T + u["K"] @ u["D"] @ u["K"].T))
               + (A @ dm) @ Sinv @ (A @ dm))
        exact["heat_theta"] = -0.5 * (eu1 - eu0)
        exact["sq_dev_bbar"] = np.trace(cu) + dm @ dm
        exact["sigma_x"] = (0.5 * (_ld(C[np.ix_(iX2, iX2)]) - _ld(C[np.ix_(iX, iX)]))
                            - exact["heat"] - exact["info_flow_x"])
        for key, val in exact.items():
            assert cf[key][j] == pytest.approx(val, abs=1e-10, rel=1e-10), (key, t)
    # the two routes to sigma^X, and identities of the symbolic learner
    np.testing.assert_allclose(cf["sigma_x"], cf["sigma_x_kl"], atol=1e-10)
    assert np.all(cf["l_info"] <= cf["m_info"] + 1e-14)
    np.testing.assert_allclose(cf["l_info_functional"], cf["m_info"], atol=0)
    assert set(CLOSED_FORM_KEYS) <= set(cf)


def _gauss_kl(m1, C1, m2, C2):
    n = C1.shape[0]
    Ci = np.linalg.inv(C2)
    dm = m1 - m2
    return 0.5 * (np.trace(Ci @ C1) - n + dm @ Ci @ dm + _ld(C2) - _ld(C1))


def _reservoir_kl(g, t):
    """sigma_theta and sigma_total as KL(forward || backward) of Gaussians given Bbar."""
    d = g.dim
    mean, C, u = _joint(g, t)
    K, A, D = u["K"], u["A"], u["D"]
    Q = K @ D @ K.T
    # regress everything on Bbar: value = a + Bcoef (Bbar - mu) + residual (cov Cc)
    r = np.arange(d, 5 * d)
    Sb = C[:d, :d]
    coef = C[np.ix_(r, np.arange(d))] @ np.linalg.inv(Sb)
    Cc = C[np.ix_(r, r)] - coef @ Sb @ coef.T
    base = mean[r]
    # positions in the conditional vector: theta (0), X1 (1), theta1 (2), X2 (3)
    p = [np.arange(k * d, (k + 1) * d) for k in range(4)]
    # Monte Carlo-free average over Bbar: KL of the joint (Bbar, .) laws equals the mean
    # conditional KL because Bbar has the same law in both.
    def joint_with_b(sel_mean, sel_cov, sel_coef):
        n = sel_mean.shape[0]
        m = np.concatenate([g.mean_vector, sel_mean])
        cov = np.zeros((d + n, d + n))
        cov[:d, :d] = Sb
        cov[d:, :d] = sel_coef @ Sb
        cov[:d, d:] = (sel_coef @ Sb).T
        cov[d:, d:] = sel_cov + sel_coef @ Sb @ sel_coef.T
        return m, cov

    # forward: (theta_t, X1, theta_{t+1}) with their joint law
    sel = np.concatenate([p[0], p[1], p[2]])
    fm, fc = joint_with_b(base[sel], Cc[np.ix_(sel, sel)], coef[sel])
    # backward: (b, x) ~ law of (theta_{t+1}, X1) given B; a = A b + K Bbar + N(0, Q)
    bx = np.concatenate([p[2], p[1]])
    Vbx = Cc[np.ix_(bx, bx)]
    mbx, cbx = base[bx], coef[bx]
    Vb = Vbx[:d, :d]
    Va = A @ Vb @ A.T + Q
    Cab = A @ Vbx[:d, :]
    gm_a = A @ mbx[:d] + K @ g.mean_vector
    g_coef_a = A @ cbx[:d] + K
    gc = np.zeros((3 * d, 3 * d))
    gc[:d, :d] = Va
    gc[:d, d:] = Cab[:, np.r_[d:2 * d, 0:d]]
    gc[d:, :d] = gc[:d, d:].T
    gc[d:, d:] = Vbx[np.ix_(np.r_[d:2 * d, 0:d], np.r_[d:2 * d, 0:d])]
    gmean = np.concatenate([gm_a, mbx[d:], mbx[:d]])
    gcoef = np.concatenate([g_coef_a, cbx[d:], cbx[:d]])
    gm, gcv = joint_with_b(gmean, gc, gcoef)
    sigma_theta = _gauss_kl(fm, fc, gm, gcv)
    return sigma_theta


@pytest.mark.parametrize("d", [1, 2, 4])
def test_parameter_reservoir_second_law(d):
    g = _learner(d, seed=10 + d) if d > 1 else GaussianLearner(
        mu=1.0, data_std=1.2, n_data=8, batch_size=2, lr=0.15, init_mean=-0.5, init_var=0.8)
    ts = np.arange(0, 25)
    cf = g.closed_form(ts)
    for key in RESERVOIR_KEYS:
        assert key in cf
    assert np.all(cf["sigma_theta"] >= -1e-12)
    assert np.all(cf["sigma_x_given_b"] >= -1e-12)
    assert np.all(cf["entropy_production_theta"] >= -1e-12)
    np.testing.assert_allclose(cf["sigma_x_given_b"] + cf["sigma_theta"], cf["sigma_total"],
                               atol=1e-10)
    for t in (0, 3, 17):
        assert cf["sigma_theta"][t] == pytest.approx(_reservoir_kl(g, t), abs=1e-9, rel=1e-9)
    # the learning efficiency is at most one (second law of Theta alone)
    eff = cf["efficiency_m"][1:]
    assert np.all((eff >= 0) & (eff <= 1 + 1e-12))
    assert np.all(cf["efficiency"][1:] <= cf["efficiency_m"][1:] + 1e-14)


def test_isotropic_medium_entropy_is_heat_over_temperature():
    """Isotropic noise: the D^-1-weighted medium entropy is q_Theta / T_eff."""
    g = GaussianLearner(mu=[0.5, -1.0, 2.0], data_std=0.7, model_std=1.3, n_data=9,
                        batch_size=3, lr=0.4, init_var=0.3)
    cf = g.closed_form(np.arange(30))
    k = g.lr / g.model_std**2
    sigma2 = g.data_std**2 / g.batch_size
    T_eff = k * sigma2 / ((2 - k) * g.model_std**2)  # exp(-U_B / T_eff) is stationary
    np.testing.assert_allclose(cf["medium_entropy_theta"], cf["heat_theta"] / T_eff,
                               rtol=1e-10, atol=1e-12)


def test_scalar_learner_unchanged_and_numeric_route_agrees():
    g = GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2, lr=0.15,
                        init_mean=-0.5, init_var=0.8)
    t = np.arange(0, 60)
    a, b = g.closed_form(t), g.closed_form(t, method="numeric")
    for key in (*CLOSED_FORM_KEYS, "sigma_x_kl", "heat_theta", "info_flow_x_accumulated",
                "sq_dev_bbar", "generalization_gap", *RESERVOIR_KEYS):
        np.testing.assert_allclose(a[key], b[key], atol=1e-12, rtol=1e-10, err_msg=key)
    one = GaussianLearner(mu=[1.0], data_cov=[[1.44]], n_data=8, batch_size=2, lr=0.15,
                          init_mean=-0.5, init_cov=[[0.8]])
    c = one.closed_form(t)
    for key in CLOSED_FORM_KEYS:
        np.testing.assert_allclose(a[key], c[key], atol=1e-12, rtol=1e-10)


def test_deprecated_flow_key_warns():
    g = GaussianLearner()
    cf = g.closed_form(np.arange(5))
    with pytest.warns(DeprecationWarning, match="accumulated information flow into X"):
        old = cf["l_info_flow"]
    np.testing.assert_array_equal(old, cf["info_flow_x_accumulated"])
    assert "l_info_flow" not in cf
    with pytest.raises(KeyError):
        cf["no_such_key"]


@pytest.fixture(scope="module")
def vec_sim():
    g = _learner(3, seed=7)
    return g, g.simulate(12, n_datasets=3000, seed=21)


def test_vector_simulation_matches_closed_form(vec_sim):
    g, ens = vec_sim
    ts = np.array([0, 3, 10])
    cf = g.closed_form(ts)
    est = g.estimate(ens, ts)
    keys = (*CLOSED_FORM_KEYS, "sigma_x_kl", "info_flow_x_accumulated", "heat_theta", "kl",
            "sq_dev_bbar", "medium_entropy_theta", "info_flow_theta_given_b", "sigma_theta")
    for key in keys:
        e = est[key]
        err = np.asarray(e.stderr)
        z = np.where(err > 0, (e.value - cf[key]) / np.where(err > 0, err, 1), 0.0)
        # 21 quantities x 3 steps: 3.5 s.e. keeps the family-wise false alarms near 3%
        assert np.all(np.abs(z) < 3.5), (key, e.value, cf[key], err)
    assert np.abs(ens.energy[:, -1] - ens.energy[:, 0]
                  - (ens.work + ens.heat).sum(axis=1)).max() < 1e-10


def test_vector_simulation_is_seeded():
    g = _learner(2, seed=3)
    a = g.simulate(4, n_datasets=5, n_trials=2, seed=4)
    b = g.simulate(4, n_datasets=5, n_trials=2, seed=4)
    c = g.simulate(4, n_datasets=5, n_trials=2, seed=5)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    assert a.params.shape == (10, 5, 2)


def test_invalid_vector_arguments():
    with pytest.raises(ShapeError):
        GaussianLearner(mu=[0.0, 1.0], data_cov=np.eye(3))
    with pytest.raises(ValidationError, match="positive definite"):
        GaussianLearner(mu=[0.0, 1.0], model_cov=[[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValidationError, match="symmetric"):
        GaussianLearner(mu=[0.0, 1.0], data_cov=[[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValidationError, match="diverges"):
        GaussianLearner(mu=[0.0, 1.0], model_cov=np.diag([1.0, 0.1]), lr=0.3)
    with pytest.raises(ShapeError):
        GaussianLearner(mu=[0.0, 1.0], init_mean=[1.0, 2.0, 3.0])
    with pytest.raises(ValidationError):
        GaussianLearner(mu=[np.nan, 1.0])
    with pytest.raises(ShapeError):
        GaussianLearner(mu=[])
    with pytest.raises(ValidationError, match="symbolic"):
        _learner(2, seed=0).closed_form(3, method="symbolic")
    with pytest.raises(ValidationError, match="no\nGaussianMean|no GaussianMean"):
        _learner(2, seed=0).model()


def test_generalization_gap_matches_simulation():
    g = GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2, lr=0.15,
                        init_mean=-0.5, init_var=0.8)
    ts = np.array([0, 3, 9])
    cf = g.closed_form(ts)
    ens = g.simulate(10, n_datasets=4000, seed=31, record=("params", "loss"))
    s2, sd2 = g.model_std**2, g.data_std**2
    th = ens.params[:, ts, 0]
    pop = 0.5 * ((th - g.mu) ** 2 + sd2) / s2 + 0.5 * math.log(2 * math.pi * s2)
    gap = pop - ens.loss[:, ts]
    z = (gap.mean(axis=0) - cf["generalization_gap"]) / (gap.std(axis=0, ddof=1)
                                                          / math.sqrt(gap.shape[0]))
    assert np.all(np.abs(z) < 3.5), z
    # in-sample fit: the gap is positive once theta depends on B
    assert np.all(cf["generalization_gap"][1:] > 0)


def test_efficiency_and_xu_raginsky_helpers():
    from stochthermo.learning import learning_efficiency, xu_raginsky_bound
    from stochthermo.results import Estimate

    g = _learner(3, seed=2)
    t = np.arange(0, 15)
    cf = g.closed_form(t)
    dS = cf["entropy_theta"] - cf["entropy_theta"][0]
    cum = np.concatenate([[0.0], np.cumsum(cf["medium_entropy_theta"])])[:-1]
    eta = learning_efficiency(cf["l_info"][1:], dS[1:], cum[1:])
    np.testing.assert_allclose(eta, cf["efficiency"][1:], rtol=1e-12)
    assert xu_raginsky_bound(0.5, 100, 1.0) == pytest.approx(0.1)
    b = xu_raginsky_bound(Estimate(0.5, 0.01), 100, 1.0)
    assert b.value == pytest.approx(0.1) and b.stderr == pytest.approx(0.1 / 1.0 * 0.01)
    assert xu_raginsky_bound(-0.01, 10, 1.0) == 0.0
    with pytest.raises(ValidationError):
        xu_raginsky_bound(0.5, 0, 1.0)
