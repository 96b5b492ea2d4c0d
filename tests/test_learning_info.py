"""M-info and L-info estimators on ensembles over training sets x seeds."""

import time

import numpy as np
import pytest

from stochthermo import estimate
from stochthermo.errors import InsufficientDataError, ValidationError
from stochthermo.estimators._learning_info import discrete_l_info
from stochthermo.learning import (
    GaussianLearner,
    LinearRegression,
    MLPClassifier,
    SoftmaxRegression,
    discrete_mi,
    learn,
)


def _spd(rng, d, scale=1.0, aniso=4.0):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return scale * (q * np.linspace(1.0, aniso, d)) @ q.T


def _learner(d):
    if d == 1:
        return GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2, lr=0.15,
                               init_mean=-0.5, init_var=0.8)
    rng = np.random.default_rng(40 + d)
    S = _spd(rng, d, 1.0, 3.0)
    return GaussianLearner(mu=rng.normal(size=d), data_cov=_spd(rng, d, 0.8, 4.0), model_cov=S,
                           init_cov=_spd(rng, d, 0.4, 2.0), n_data=8, batch_size=2,
                           lr=0.5 * np.linalg.eigvalsh(S).min())


def _z(est, truth):
    return abs(est.value - truth) / est.stderr


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_gaussian_learner_estimates_match_closed_forms(d):
    g = _learner(d)
    t = 6
    cf = g.closed_form(t)
    ens = g.simulate(t, n_datasets=2000, seed=100 + d, record=("params", "samples"))
    m = estimate.m_info(ens, t)
    li = estimate.l_info(ens, t)
    lf = estimate.l_info(ens, t, reading="functional")
    assert m.meta["b"] == "mean" and "assumptions" in m.meta
    assert _z(m, cf["m_info"]) < 3.0, (m, cf["m_info"])
    assert _z(li, cf["l_info"]) < 3.0, (li, cf["l_info"])
    assert _z(lf, cf["l_info_functional"]) < 3.0, (lf, cf["l_info_functional"])
    assert 0 < m.stderr < 0.1 and 0 < li.stderr < 0.1


def test_label_route_over_seeds_matches_closed_form():
    """B as a training-set label (analysis of variance over seeds) in d = 2."""
    g = _learner(2)
    t = 6
    cf = g.closed_form(t)
    ens = g.simulate(t, n_datasets=600, n_trials=4, seed=7, record=("params", "samples"))
    m = estimate.m_info(ens, t, b="label")
    li = estimate.l_info(ens, t, b="label")
    assert m.method == "gaussian:label" and m.bias is not None
    assert _z(m, cf["m_info"]) < 3.0
    assert _z(li, cf["l_info"]) < 3.0


def test_knn_route_and_exact_method():
    g = _learner(1)
    t = 6
    cf = g.closed_form(t)
    ens = g.simulate(t, n_datasets=2000, seed=8, record=("params", "samples"))
    m = estimate.m_info(ens, t, method="knn")
    assert m.method.startswith("knn") and _z(m, cf["m_info"]) < 3.0
    li = estimate.l_info(ens, t, method="knn")
    assert li.method.startswith("knn") and _z(li, cf["l_info"]) < 3.0
    ex = estimate.m_info(ens, t, method="exact", learner=g)
    assert ex.value == cf["m_info"] and ex.stderr == 0
    assert estimate.l_info(ens, t, learner=g).value == cf["l_info"]


def test_pca_projection_is_stated_and_cannot_exceed_full():
    g = _learner(4)
    t = 6
    ens = g.simulate(t, n_datasets=2000, seed=9, record=("params",))
    full = estimate.m_info(ens, t, method="gaussian")
    proj = estimate.m_info(ens, t, method="pca", n_components=2)
    assert proj.meta["n_components"] == 2 and 0 < proj.meta["explained_variance"] < 1
    assert "principal" in proj.meta["projection"]
    assert proj.value < full.value + 3 * np.hypot(proj.stderr, full.stderr)


def test_null_control_continuous():
    """Every trial trains on the same data: Theta and X carry no information about B."""
    g = _learner(2)
    data = g.draw_data(np.random.default_rng(0))
    model_ens = learn(_iso_model(), [data] * 300, lr=0.2, batch_size=2, n_steps=6,
                      n_trials=4, seed=3, method="gaussian", init="own",
                      record=("params", "samples"))
    for est in (estimate.m_info(model_ens, 6, b="label"),
                estimate.l_info(model_ens, 6, b="label")):
        assert abs(est.value) < 3 * est.stderr, est


def _iso_model():
    from stochthermo.learning import GaussianMean

    return GaussianMean(dim=2, std=1.0)


# ------------------------------------------------------------------ discrete outputs


def test_discrete_l_info_is_exact_without_seed_noise():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(30, 1, 7, 4))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    est = discrete_l_info(p, bias_correct=False)
    np.testing.assert_allclose(est.meta["per_input"], discrete_mi(p[:, 0]), atol=1e-12)
    assert est.value == pytest.approx(discrete_mi(p[:, 0]).mean(), abs=1e-12)


def test_discrete_finite_seed_bias_is_removed():
    """Probabilities = a training-set part + seed noise: the seed-averaged law is known."""
    rng = np.random.default_rng(2)
    K, M, P, C = 400, 6, 3, 3
    base = rng.normal(size=(K, 1, P, C))
    noise = 0.8 * rng.normal(size=(K, M, P, C))
    lg = base + noise
    p = np.exp(lg) / np.exp(lg).sum(-1, keepdims=True)
    # the infinite-seed law of each training set, by a large independent seed sample
    big = base + 0.8 * rng.normal(size=(K, 4000, P, C))
    pb = (np.exp(big) / np.exp(big).sum(-1, keepdims=True)).mean(axis=1)
    truth = discrete_mi(pb).mean()
    corrected = discrete_l_info(p)
    naive = discrete_l_info(p, bias_correct=False)
    assert abs(corrected.value - truth) < 3 * corrected.stderr + 2e-3
    assert naive.value - truth > 3 * naive.stderr  # without the correction: biased upward


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    from stochthermo.learning import load_dataset

    U, y, _ = load_dataset("digits")
    return U, y


def _subset_sampler(U, y, n):
    def draw(rng):
        i = rng.choice(U.shape[0], n, replace=False)
        return U[i], y[i]

    return draw


def test_classifier_l_info_speed_and_ordering(digits):
    U, y = digits
    probe = U[np.random.default_rng(0).choice(U.shape[0], 1000, replace=False)]
    model = SoftmaxRegression(n_in=64, n_classes=10)
    ens = learn(model, _subset_sampler(U, y, 100), lr=0.5, batch_size=10, n_steps=10,
                n_trials=20, n_datasets=10, seed=1, probe=probe, record=("params",),
                init="own", record_every=5)
    estimate.l_info(ens, 0)  # warm-up (imports)
    t0 = time.perf_counter()
    li = estimate.l_info(ens, 10)
    elapsed = time.perf_counter() - t0
    # 10 training sets x 20 seeds x 1000 probe inputs x 10 classes (measured ~0.3 s alone)
    assert elapsed < 2.0, elapsed
    assert li.meta["n_probe"] == 1000 and li.meta["n_classes"] == 10
    assert li.value > 5 * li.stderr
    m = estimate.m_info(ens, 10)
    assert li.value <= m.value + 3 * np.hypot(li.stderr, m.stderr)


def test_classifier_null_control(digits):
    U, y = digits
    data = _subset_sampler(U, y, 100)(np.random.default_rng(5))
    model = SoftmaxRegression(n_in=64, n_classes=10)
    ens = learn(model, [data] * 10, lr=0.5, batch_size=10, n_steps=10, n_trials=20, seed=2,
                probe=U[:300], record=("params",), init="own", record_every=10)
    for est in (estimate.l_info(ens, 10), estimate.l_info(ens, 10, reading="functional"),
                estimate.m_info(ens, 10)):
        assert abs(est.value) < 3 * est.stderr, est


@pytest.mark.slow
def test_mlp_on_digits_l_info_below_m_info_over_training(digits):
    U, y = digits
    model = MLPClassifier(n_in=64, n_classes=10, hidden=(16,))
    ens = learn(model, _subset_sampler(U, y, 200), lr=0.3, batch_size=10, n_steps=60,
                n_trials=10, n_datasets=20, seed=4, probe=U[:200], record=("params",),
                init="own", record_every=20)
    for t in (20, 40, 60):
        li = estimate.l_info(ens, t)
        # a lower bound on I_M: the information in the output function on the probe set
        bound = estimate.m_info(ens, t, method="bound")
        assert bound.meta["bound"] == "lower"
        # I_L <= I(f(Theta); B) <= I_M, with I_L clearly resolved
        assert li.value <= bound.value + 3 * np.hypot(li.stderr, bound.stderr), (t, li, bound)
        assert li.value > 3 * li.stderr


# ------------------------------------------------------------------ readings


def _regression_ensemble(probe_sees_u2, seed):
    """y = 0.5 u1 + w2 u2 + c + noise, with w2 drawn per training set; probe chosen so that
    the output either sees the weight of u2 or does not."""
    def draw(rng):
        u = rng.normal(size=(20, 2))
        w2 = rng.normal()
        return u, 0.5 * u[:, 0] + w2 * u[:, 1] + 0.3 + 0.5 * rng.normal(size=20)

    probe = np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    if probe_sees_u2:
        probe[:, 1] = [1.0, -0.5, 0.3]
    return learn(LinearRegression(n_in=2, std=0.5), draw, lr=0.02, batch_size=5, n_steps=15,
                 n_trials=4, n_datasets=400, seed=seed, probe=probe, record=("params",),
                 init="own")


def test_functional_reading_ignores_directions_the_output_does_not_see():
    blind = _regression_ensemble(False, seed=11)
    m = estimate.m_info(blind, 15, b="label")
    f = estimate.l_info(blind, 15, reading="functional", b="label")
    assert f.meta["statistic"] == "the output mean on the probe set"
    # w2 carries most of the information about B, but the probe output never sees it
    assert m.value - f.value > 5 * np.hypot(m.stderr, f.stderr), (m, f)
    seen = _regression_ensemble(True, seed=11)
    m2 = estimate.m_info(seen, 15, b="label")
    f2 = estimate.l_info(seen, 15, reading="functional", b="label")
    assert abs(m2.value - f2.value) < 3 * np.hypot(m2.stderr, f2.stderr), (m2, f2)


def test_flow_reading_renamed_with_deprecated_alias():
    g = _learner(1)
    ens = g.simulate(8, n_datasets=600, seed=5)
    new = estimate.l_info(ens, 4, reading="accumulated_flow_x")
    with pytest.warns(DeprecationWarning, match="accumulated information flow into X"):
        old = estimate.l_info(ens, 4, reading="flow")
    assert old.value == new.value
    assert "not information about B" in new.meta["assumptions"]


def test_bound_method_is_labelled_lower_bound():
    g = _learner(2)
    ens = g.simulate(6, n_datasets=1500, seed=6, record=("params",))
    est = estimate.m_info(ens, 6, method="bound", output=lambda th: th[:, :1])
    assert est.meta["bound"] == "lower" and "lower bound" in est.meta["assumptions"]
    full = estimate.m_info(ens, 6)
    assert est.value < full.value


def test_invalid_inputs():
    g = _learner(1)
    ens = g.simulate(4, n_datasets=50, seed=1, record=("params",))
    with pytest.raises(ValidationError, match="not a LearningEnsemble"):
        estimate.m_info(np.zeros((3, 4)), 2)
    with pytest.raises(ValidationError, match="not recorded"):
        estimate.m_info(ens, 99)
    with pytest.raises(ValidationError, match="one recorded step"):
        estimate.m_info(ens, 2.5)
    with pytest.raises(InsufficientDataError, match="n_trials >= 2"):
        estimate.m_info(ens, 2, b="label")
    with pytest.raises(ValidationError, match="valid choices"):
        estimate.l_info(ens, 2, reading="vibes")
    with pytest.raises(ValidationError, match="samples"):
        estimate.l_info(ens, 2)
    with pytest.raises(ValidationError, match="sum to 1"):
        discrete_l_info(np.full((3, 2, 1, 2), 0.7))
    with pytest.raises(InsufficientDataError, match="n_trials >= 2"):
        discrete_l_info(np.full((3, 1, 1, 2), 0.5))
    one = g.simulate(4, n_datasets=1, seed=1, record=("params",))
    with pytest.raises(InsufficientDataError, match="training set"):
        estimate.m_info(one, 2)


def test_probe_shape_is_checked(digits):
    from stochthermo.errors import ShapeError

    U, y = digits
    ens = learn(SoftmaxRegression(n_in=64, n_classes=10), _subset_sampler(U, y, 50), lr=0.5,
                batch_size=10, n_steps=2, n_trials=2, n_datasets=3, seed=1, probe=U[:20],
                record=("params",), init="own")
    with pytest.raises(ShapeError, match="probe"):
        estimate.l_info(ens, 2, probe=np.zeros((5, 3)))
    with pytest.raises(ValidationError):
        estimate.l_info(ens, 2, probe=np.full((5, 64), np.nan))
    sub = learn(SoftmaxRegression(n_in=64, n_classes=10), _subset_sampler(U, y, 50), lr=0.5,
                batch_size=10, n_steps=2, n_trials=2, n_datasets=3, seed=1, probe=U[:20],
                record=("params",), init="own", param_subset=[0, 1])
    with pytest.raises(ValidationError, match="param_subset"):
        estimate.l_info(sub, 2)
