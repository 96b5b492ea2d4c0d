"""Fluctuation theorems on learning: estimate.fluctuation_theorem on a LearningEnsemble."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stochthermo.errors import InsufficientDataError, ValidationError
from stochthermo.estimate import fluctuation_theorem
from stochthermo.learning import GaussianLearner, SoftmaxRegression, learn


@pytest.fixture(scope="module")
def gauss_ens():
    # work per step ~ N(delta^2 / 2 s^2, delta^2 / s^2) given the path: both FTs hold exactly
    g = GaussianLearner(mu=1.0, data_std=1.0, model_std=0.5, lr=0.05, n_data=20, batch_size=2,
                        init_mean=0.0, init_var=0.1)
    return g.simulate(10, n_datasets=400, n_trials=5, seed=11, record=("params", "work"))


def _softmax_data(rng, N=40):
    U = rng.standard_normal((N, 2))
    Y = (U[:, 0] + 0.5 * rng.standard_normal(N) > 0).astype(np.int64)
    return U, Y


@pytest.fixture(scope="module")
def softmax_ens():
    probe = np.array([[1.0, 0.0], [-1.0, 0.5], [0.3, -0.2]])
    return learn(SoftmaxRegression(n_in=2, n_classes=3, init_scale=1.0), _softmax_data, lr=0.5,
                 batch_size=4, n_steps=10, n_datasets=20, n_trials=50, seed=3, probe=probe,
                 record=("params", "work"), init="own")


def test_integral_ft_gaussian_learner(gauss_ens):
    est = fluctuation_theorem(gauss_ens)
    assert est.method == "fluctuation_theorem:learning_integral"
    assert est.meta["mean_work"] > 10 * est.meta["mean_work_stderr"]  # not a trivial W = 0
    assert abs(est.zscore(1.0)) < 3
    assert abs(est.meta["delta_f"]) < 3 * est.meta["delta_f_stderr"]
    assert est.ok and est.meta["effective_sample_size"] > 200


def test_detailed_and_crooks_gaussian_learner(gauss_ens):
    det = fluctuation_theorem(gauss_ens, method="detailed", bins=10)
    assert abs(det.zscore(1.0)) < 3 and det.ok
    cr = fluctuation_theorem(gauss_ens, method="crooks", seed=1)
    assert abs(cr.zscore(1.0)) < 3 and cr.ok
    assert cr.stderr < 0.1
    assert abs(cr.meta["intercept"]) < 3 * cr.meta["intercept_stderr"]  # Delta F = 0


def test_interval(gauss_ens):
    full = fluctuation_theorem(gauss_ens)
    part = fluctuation_theorem(gauss_ens, interval=(3, 8))
    assert part.meta["interval"] == (3, 8)
    np.testing.assert_allclose(part.meta["mean_work"],
                               gauss_ens.work[:, 3:8].sum(axis=1).mean())
    assert part.meta["mean_work"] < full.meta["mean_work"]
    assert abs(part.zscore(1.0)) < 3


def test_softmax_integral_and_crooks(softmax_ens):
    est = fluctuation_theorem(softmax_ens)
    assert abs(est.zscore(1.0)) < 3
    cr = fluctuation_theorem(softmax_ens, method="crooks", seed=5)
    assert abs(cr.zscore(1.0)) < 3 and cr.stderr < 0.15
    # the symmetric form is no theorem for class labels: it says so
    det = fluctuation_theorem(softmax_ens, method="detailed", bins=8)
    assert any("reversible steady state" in w for w in det.warnings)


def test_violation_control(gauss_ens, softmax_ens):
    # tampered work (halved) breaks both relations, and the estimators see it
    for ens in (gauss_ens, softmax_ens):
        bad = dataclasses.replace(ens, work=0.5 * np.asarray(ens.work))
        est = fluctuation_theorem(bad)
        assert est.zscore(1.0) < -4 and est.ok
    bad = dataclasses.replace(gauss_ens, work=0.5 * np.asarray(gauss_ens.work))
    cr = fluctuation_theorem(bad, method="crooks", seed=2)
    assert cr.zscore(1.0) > 4


def test_few_samples_dominate_warns():
    g = GaussianLearner(mu=1.0, data_std=1.0, model_std=0.3, lr=0.05, n_data=20, batch_size=1,
                        init_mean=-3.0, init_var=0.01)
    ens = g.simulate(30, n_datasets=100, n_trials=1, seed=4, record=("params", "work"))
    est = fluctuation_theorem(ens)
    assert est.meta["mean_work"] > 5
    assert not est.ok
    assert any("dominated by few samples" in w for w in est.warnings)


def test_bad_requests(gauss_ens):
    with pytest.raises(ValidationError, match="interval"):
        fluctuation_theorem(gauss_ens, interval=(5, 5))
    with pytest.raises(ValidationError, match="interval"):
        fluctuation_theorem(gauss_ens, interval=(0, 10**9))
    with pytest.raises(ValidationError, match="two ints"):
        fluctuation_theorem(gauss_ens, interval=(0.5, 3))
    with pytest.raises(ValidationError, match="unknown method"):
        fluctuation_theorem(gauss_ens, method="jarzynski")
    with pytest.raises(ValidationError, match="applies to a LearningEnsemble"):
        fluctuation_theorem([1.0, 2.0, 3.0], interval=(0, 1))
    no_work = dataclasses.replace(gauss_ens, work=None)
    with pytest.raises(ValidationError, match="did not record 'work'"):
        fluctuation_theorem(no_work)
    no_params = dataclasses.replace(gauss_ens, params=None)
    with pytest.raises(ValidationError, match="crooks"):
        fluctuation_theorem(no_params, method="crooks")
    coarse = learn(gauss_ens.model, np.zeros(10), lr=0.1, batch_size=2, n_steps=6,
                   n_trials=4, seed=0, record=("params", "work"), record_every=3)
    with pytest.raises(ValidationError, match="record_every=1"):
        fluctuation_theorem(coarse, method="crooks")
    nan_work = np.array(gauss_ens.work)
    nan_work[3, 2] = np.nan
    with pytest.raises(InsufficientDataError.__mro__[1], match="non-finite"):
        fluctuation_theorem(dataclasses.replace(gauss_ens, work=nan_work))
