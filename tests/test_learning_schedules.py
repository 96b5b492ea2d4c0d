"""Epoch reshuffling and learning-rate schedules in the Gaussian learner's closed forms."""

import numpy as np
import pytest

from stochthermo.errors import ValidationError
from stochthermo.learning import GaussianLearner, cosine_schedule, step_decay

KEYS = ("sq_dev_bbar", "work", "heat_theta", "entropy_theta", "m_info", "l_info")


def _check(cf, est, keys, limit=3.5):
    for key in keys:
        e = est[key]
        z = (np.asarray(e.value) - cf[key]) / np.asarray(e.stderr)
        assert np.all(np.abs(z) < limit), (key, e.value, cf[key], e.stderr)


def test_reshuffle_closed_form_matches_shuffled_sgd():
    """N = 100, m = 10, r = 0.1: within-epoch anticorrelation shrinks E(theta - Bbar)^2."""
    g = GaussianLearner(n_data=100, batch_size=10, lr=0.1, sampling="reshuffle")
    iid = GaussianLearner(n_data=100, batch_size=10, lr=0.1)
    ts = np.array([5, 45, 50, 55])
    cf, ci = g.closed_form(ts), iid.closed_form(ts)
    ens = g.simulate(56, n_datasets=2500, seed=3)  # method="shuffle" by default here
    assert ens.meta["method"] == "shuffle"
    est = g.estimate(ens, ts)
    _check(cf, est, ("sq_dev_bbar",), limit=3.0)  # the headline quantity
    # 3 more quantities x 4 steps: 3.5 s.e. keeps the family-wise false alarms near 1%
    _check(cf, est, ("work", "heat_theta", "entropy_theta"))
    # the i.i.d. model is far off in the steady state (the 3.8x gap)
    se = np.asarray(est["sq_dev_bbar"].stderr)
    assert np.all(np.abs(est["sq_dev_bbar"].value[1:] - ci["sq_dev_bbar"][1:]) > 10 * se[1:])
    # the error of the mean oscillates within an epoch: smallest at the epoch's end
    assert cf["sq_dev_bbar"][2] < cf["sq_dev_bbar"][1]
    assert np.all(np.isnan(cf["sigma_theta"]))  # not Markov given B: no reservoir law


def test_reshuffle_first_epoch_matches_iid_moments_of_batches():
    """Within the first step the only change is Var xi = S_d (N - m) / (N m)."""
    g = GaussianLearner(n_data=12, batch_size=4, lr=0.3, sampling="reshuffle", init_var=0.0)
    iid = GaussianLearner(n_data=12, batch_size=4, lr=0.3, init_var=0.0)
    k = g.k
    v_r = g.closed_form(1)["var_theta_given_b"]
    v_i = iid.closed_form(1)["var_theta_given_b"]
    assert v_i == pytest.approx(k**2 / 4, rel=1e-12)
    assert v_r == pytest.approx(k**2 * (12 - 4) / (12 * 4), rel=1e-12)


def test_vector_reshuffle_matches_simulation():
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
    g = GaussianLearner(mu=[0.5, -0.2], data_cov=(q * [0.5, 2.0]) @ q.T,
                        model_cov=np.diag([1.0, 1.5]), n_data=20, batch_size=5, lr=0.3,
                        sampling="reshuffle")
    ts = np.array([3, 12, 15])
    cf = g.closed_form(ts)
    est = g.estimate(g.simulate(16, n_datasets=2500, seed=5), ts)
    _check(cf, est, ("sq_dev_bbar", "work", "heat_theta", "entropy_theta"))


@pytest.mark.parametrize("schedule", [step_decay(0.3, factor=0.5, every=6),
                                      cosine_schedule(0.4, 18, lr_min=0.02)])
def test_schedule_closed_form_matches_simulation(schedule):
    g = GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2, init_mean=-0.5,
                        init_var=0.8, lr_schedule=schedule)
    ts = np.array([2, 7, 13, 17])
    cf = g.closed_form(ts)
    est = g.estimate(g.simulate(18, n_datasets=3000, seed=6), ts)
    _check(cf, est, KEYS)
    # the same schedule as an array gives the same closed forms
    arr = GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2, init_mean=-0.5,
                          init_var=0.8, lr_schedule=[schedule(s) for s in range(18)])
    for key in KEYS:
        np.testing.assert_allclose(arr.closed_form(ts)[key], cf[key], rtol=1e-12, atol=1e-15)


def test_vector_schedule_matches_simulation():
    g = GaussianLearner(mu=[1.0, 0.0], data_cov=[[1.0, 0.4], [0.4, 0.6]],
                        model_cov=[[1.0, 0.2], [0.2, 0.8]], n_data=8, batch_size=2,
                        lr_schedule=cosine_schedule(0.5, 12, lr_min=0.05))
    ts = np.array([2, 8, 11])
    cf = g.closed_form(ts)
    est = g.estimate(g.simulate(12, n_datasets=3000, seed=8), ts)
    _check(cf, est, KEYS)


def test_constant_schedule_equals_constant_rate():
    a = GaussianLearner(lr=0.2, n_data=5, batch_size=2)
    b = GaussianLearner(lr=0.2, n_data=5, batch_size=2, lr_schedule=lambda t: 0.2)
    t = np.arange(40)
    ca, cb = a.closed_form(t), b.closed_form(t)
    for key in (*KEYS, "sigma_x", "info_flow_x", "info_flow_x_accumulated", "sigma_theta"):
        np.testing.assert_allclose(cb[key], ca[key], rtol=1e-10, atol=1e-13)


def test_schedule_errors():
    with pytest.raises(ValidationError, match="diverge"):
        GaussianLearner(lr_schedule=lambda t: 3.0).closed_form(2)
    with pytest.raises(ValidationError, match="at least 4"):
        GaussianLearner(lr_schedule=[0.1, 0.1]).closed_form(3)
    with pytest.raises(ValidationError, match="positive"):
        GaussianLearner(lr_schedule=[0.1, -0.1])
    with pytest.raises(ValidationError, match="positive number"):
        GaussianLearner(lr_schedule=lambda t: float("nan")).closed_form(1)
    with pytest.raises(ValidationError, match="valid choices"):
        GaussianLearner(sampling="sometimes")
    with pytest.raises(ValidationError, match="batch_size <= n_data"):
        GaussianLearner(sampling="reshuffle", n_data=3, batch_size=5)
    assert step_decay(0.2, factor=0.5, every=10)(25) == pytest.approx(0.05)
    assert cosine_schedule(0.4, 10)(10) == 0.0


def test_hostile_schedules_and_sizes():
    with pytest.raises(ValidationError, match="positive number"):
        GaussianLearner(lr_schedule=lambda t: "0.1").closed_form(2)
    with pytest.raises(ValidationError, match="positive number"):
        GaussianLearner(lr_schedule=lambda t: None).closed_form(2)
    with pytest.raises(ValidationError, match="too large"):
        GaussianLearner(mu=[0.0, 0.0]).closed_form(10**7)
    with pytest.raises(ValidationError, match="too large"):
        GaussianLearner(mu=[0.0, 0.0], n_data=10**6).simulate(5, n_datasets=100)
    with pytest.raises(ValidationError, match="must be an int"):
        GaussianLearner().closed_form(1.5)
