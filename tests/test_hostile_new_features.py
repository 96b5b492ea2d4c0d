"""Hostile input on the newer features: jump models and estimators, fluctuation theorems,
the Gaussian learner's ensemble estimates, large dimensions of built-in models.

Each test is the regression test of one input that used to escape as a foreign exception, a
MemoryError, a hang or a silent NaN; each has a control that the ordinary input still works.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import stochthermo as st
from stochthermo import estimate, exact, learning
from stochthermo.errors import EstimationError, InsufficientDataError, ValidationError


@pytest.fixture(scope="module")
def sensor_run():
    model = st.BipartiteJump.sensor(w=1.0, a=4.0, b=0.5)
    return st.simulate_jump(model, n_traj=64, t_max=10.0, dt=0.1, seed=11)


# ------------------------------------------------------------------ fluctuation theorems


def test_integral_ft_refuses_values_whose_weights_overflow():
    s = np.concatenate([[-1000.0], np.linspace(-1.0, 3.0, 100)])
    with pytest.raises(EstimationError, match=r"s = -1000.*overflows"):
        estimate.fluctuation_theorem(s)
    # control: a large but representable negative value is still averaged (and flagged)
    est = estimate.fluctuation_theorem(np.concatenate([[-50.0], np.linspace(-1.0, 3.0, 100)]))
    assert np.isfinite(est.value) and est.warnings


def test_detailed_ft_refuses_more_bins_than_samples_quickly():
    s = np.random.default_rng(0).normal(1.0, np.sqrt(2.0), 500)
    t0 = time.perf_counter()
    with pytest.raises(ValidationError, match=r"bins=1000000000 is more than the 500 samples"):
        estimate.fluctuation_theorem(s, method="detailed", bins=10**9)
    assert time.perf_counter() - t0 < 2.0
    est = estimate.fluctuation_theorem(s, method="detailed", bins=10)
    assert abs(est.value - 1.0) < 5 * est.stderr


@pytest.mark.parametrize("bad", [float("nan"), -1.0, "50"])
def test_integral_ft_validates_min_ess(bad):
    s = np.random.default_rng(1).normal(1.0, np.sqrt(2.0), 200)
    with pytest.raises(ValidationError, match="min_ess"):
        estimate.fluctuation_theorem(s, min_ess=bad)


# ------------------------------------------------------------------ jump estimators


@pytest.mark.parametrize("method", ["visible_pairs", "kld_sampled"])
def test_jump_labels_are_a_partition_whatever_their_values(sensor_run, method):
    small = estimate.entropy_production(sensor_run, method=method, labels=[0, 1, 0, 1])
    huge = estimate.entropy_production(sensor_run, method=method,
                                       labels=[7, 10**9, 7, 10**9])
    assert huge.value == small.value and huge.stderr == small.stderr
    # a different partition gives a different coarse-graining (the relabelling is not a no-op)
    other = estimate.entropy_production(sensor_run, method=method, labels=[0, 0, 1, 1])
    assert other.value != small.value


@pytest.mark.parametrize(("func", "kwargs", "name"), [
    (estimate.information_flow, {"blocks": [[0], [1]]}, "blocks="),
    (estimate.entropy_production, {"dt": 0.1}, "dt="),
    (estimate.entropy_production, {"basis": "poly2"}, "basis="),
])
def test_jump_data_refuses_langevin_options_by_name(sensor_run, func, kwargs, name):
    with pytest.raises(ValidationError, match=rf"{name} does not apply to jump data.*n_groups="):
        func(sensor_run, **kwargs)
    assert np.all(np.isfinite(func(sensor_run).value))


# ------------------------------------------------------------------ jump models and exact


def test_markov_jump_refuses_a_huge_reservoir_label():
    W = [[0, 1, 2], [2, 0, 1], [1, 2, 0]]
    t0 = time.perf_counter()
    with pytest.raises(ValidationError, match=r"label 1000000000.*number the reservoirs"):
        st.MarkovJump(W, reservoirs=np.full((3, 3), 10**9))
    assert time.perf_counter() - t0 < 2.0
    res = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]])
    m = st.MarkovJump(W, reservoirs=res)
    flows = exact.environment_entropy_flows(m)
    assert m.n_reservoirs == 4 and flows.shape == (4,)
    assert flows.sum() == pytest.approx(exact.entropy_production(m), rel=1e-12)


def test_exact_jump_refuses_discrete():
    m = st.MarkovJump([[0, 1, 2], [2, 0, 1], [1, 2, 0]])
    with pytest.raises(ValidationError, match="discrete=True takes a LinearizedSGD"):
        exact.entropy_production(m, discrete=True)
    assert exact.entropy_production(m) > 0


def test_jump_derivation_latex_of_an_unknown_name_is_our_error():
    from stochthermo.symbolic import derive_jump

    d = derive_jump(W=[["0", "a", "c"], ["b", "0", "a"], ["c", "b", "0"]])
    with pytest.raises(ValidationError, match=r"unknown quantity 'nonsense'; valid names"):
        d.latex("nonsense")
    assert d.latex("stationary_distribution").startswith("p")


# ------------------------------------------------------------------ sizes refused quickly


@pytest.mark.parametrize("build", [
    lambda: st.NonlinearLangevin(lambda x, t, out: None, 1.0, dim=10**9),
    lambda: st.double_well(dim=10**9),
    lambda: st.dragged_trap(dim=10**9),
    lambda: st.GaussianLearner(data_cov=np.eye(5000)),
], ids=["nonlinear-scalar-D", "double_well", "dragged_trap", "gaussian_learner"])
def test_huge_dimensions_are_refused_before_allocating(build):
    t0 = time.perf_counter()
    with pytest.raises(ValidationError, match=r"at most \d+"):
        build()
    assert time.perf_counter() - t0 < 5.0


def test_moderate_dimensions_still_build():
    assert st.double_well(dim=3).dim == 3
    assert st.dragged_trap(dim=2).dim == 2
    assert st.GaussianLearner(data_cov=np.eye(3)).dim == 3


# ------------------------------------------------------------------ Gaussian learner estimates


def test_gaussian_learner_estimates_refuse_too_few_training_sets():
    g = st.GaussianLearner(mu=1.0, n_data=10, batch_size=2)
    few = g.simulate(20, n_datasets=5, seed=0)
    with pytest.raises(InsufficientDataError, match=r"5 training sets .* too few"):
        learning.gaussian_learner_estimates(few, [0, 1, 5])
    enough = g.simulate(20, n_datasets=6, seed=0)
    out = learning.gaussian_learner_estimates(enough, [0, 1, 5])
    for key, est in out.items():
        if hasattr(est, "stderr"):
            assert np.all(np.isfinite(np.asarray(est.value))), key
            assert np.all(np.isfinite(np.asarray(est.stderr))), key


# ------------------------------------------------------------------ command line


@pytest.mark.parametrize("argv", [
    ["derive", "--A", "[" * 5000 + "]" * 5000, "--D", "[[1]]"],
    ["simulate", "--wx", "[" * 5000 + "]" * 5000, "--wy", "[[[0,1],[1,0]],[[0,1],[1,0]]]",
     "--n-traj", "10", "--n-steps", "10", "--dt", "0.1"],
], ids=["derive-A", "simulate-wx"])
def test_cli_deeply_nested_matrix_is_a_usage_error(argv, capsys):
    from stochthermo.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nests brackets too deeply" in err and "Traceback" not in err


def test_cli_derive_model_file_is_read_with_a_size_limit(tmp_path, capsys):
    from stochthermo.cli import main

    big = tmp_path / "big.json"
    big.write_text('{"A": [[1]], "D": [[1]], "pad": "' + "x" * 1_100_000 + '"}')
    assert main(["derive", "--model", str(big)]) == 2
    assert "larger than 1 MB" in capsys.readouterr().err
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    assert main(["derive", "--model", str(deep)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    ok = tmp_path / "ok.json"
    ok.write_text('{"A": [[2]], "D": [[1]]}')
    assert main(["derive", "--model", str(ok), "--format", "json"]) == 0


@pytest.mark.parametrize("steps", ["", ",", " , "])
def test_cli_learn_without_steps_is_a_usage_error(steps, capsys):
    from stochthermo.cli import main

    assert main(["learn", "--steps", steps]) == 2
    assert "holds no step" in capsys.readouterr().err


def test_jump_summary_of_one_trajectory_is_our_error():
    import warnings

    from stochthermo.estimators._jump import summarize_jump

    model = st.BipartiteJump.sensor(w=1.0, a=4.0, b=0.5)
    one = st.simulate_jump(model, n_traj=1, t_max=1.0, dt=0.1, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy 'Degrees of freedom <= 0' on the way
        with pytest.raises(InsufficientDataError, match="at least 2 trajectories"):
            summarize_jump(one, model)
    two = st.simulate_jump(model, n_traj=50, t_max=5.0, dt=0.1, seed=0)
    assert np.isfinite(summarize_jump(two, model)["entropy_production"]["stderr"])


def test_loglog_slope_of_two_points_says_why_it_has_no_error_bar():
    est = estimate.loglog_slope([1.0, 10.0], [1.0, 0.1])
    assert est.value == pytest.approx(-1.0) and np.isnan(est.stderr)
    assert len(est.warnings) == 1 and "no standard error" in est.warnings[0]
    # controls: absolute errors, or a third point, give a finite error bar and no warning
    assert estimate.loglog_slope([1.0, 10.0], [1.0, 0.1], yerr=[0.1, 0.01]).warnings == ()
    three = estimate.loglog_slope([1.0, 10.0, 100.0], [1.0, 0.12, 0.01])
    assert np.isfinite(three.stderr) and three.warnings == ()


def test_discrete_mi_of_continuous_values_warns():
    rng = np.random.default_rng(3)
    x = rng.normal(size=1000)
    est = estimate.mutual_information(x, x + rng.normal(size=1000), method="discrete")
    assert len(est.warnings) == 1 and "coarser labels" in est.warnings[0]
    # control: a 4-letter alphabet with 1000 samples is well sampled
    a = rng.integers(0, 4, 1000)
    ok = estimate.mutual_information(a, (a + rng.integers(0, 2, 1000)) % 4, method="discrete")
    assert ok.warnings == () and abs(ok.value - np.log(2)) < 5 * ok.stderr + 0.01


@pytest.mark.parametrize("period", [0.0, float("nan"), 2 * np.pi])
def test_period_without_a_fourier_basis_is_refused(period):
    x = st.simulate(st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], [[1.0, 0.0], [0.0, 1.0]]),
                    n_traj=64, n_steps=400, dt=0.01, seed=2, save_every=4, x0="stationary")
    with pytest.raises(ValidationError, match="only used by a Fourier basis"):
        estimate.entropy_production(x, method="inference", period=period)
    assert np.isfinite(estimate.entropy_production(x, method="inference").value)


# ------------------------------------------------------------------ symbolic guards


def test_discrete_sgd_derivation_refuses_a_diverging_map():
    from stochthermo.errors import UnstableModelError
    from stochthermo.symbolic import derive_sgd_discrete

    with pytest.raises(UnstableModelError, match="spectral radius 9 >= 1"):
        derive_sgd_discrete([[2]], [[1]], 5, 8)  # P = 1 - 5 * 2 = -9
    ok = derive_sgd_discrete([[2, 0.6], [0.6, 1]], [[1, 0], [0, 0.25]], 0.05, 8)
    sgd = st.LinearizedSGD([[2, 0.6], [0.6, 1]], [[1, 0], [0, 0.25]], lr=0.05, batch_size=8)
    assert float(ok.rate) == pytest.approx(exact.entropy_production(sgd, discrete=True),
                                           rel=1e-9)


@pytest.mark.parametrize(("H", "S", "lr", "b"), [
    (np.eye(50).tolist(), np.eye(50).tolist(), 0.1, 2),
    ([["a", "b", "c"], ["b", "d", "e"], ["c", "e", "f"]], np.eye(3).tolist(), "r", "m"),
], ids=["numeric-50x50", "symbolic-3x3"])
def test_discrete_sgd_derivation_refuses_what_would_run_for_minutes(H, S, lr, b):
    from stochthermo.errors import ResourceError
    from stochthermo.symbolic import derive_sgd_discrete

    t0 = time.perf_counter()
    with pytest.raises(ResourceError, match="nothing was started"):
        derive_sgd_discrete(H, S, lr, b)
    assert time.perf_counter() - t0 < 5.0


def test_estimate_cost_with_symbols_only_outside_the_matrices():
    import sympy as sp

    from stochthermo.symbolic import estimate_cost

    r, b = sp.Symbol("r"), sp.Symbol("b")
    with_rb = estimate_cost([[2, 0.6], [0.6, 1]], [[1, 0], [0, 0.25]], extra_symbols=[r, b])
    plain = estimate_cost([[2, 0.6], [0.6, 1]], [[1, 0], [0, 0.25]])
    assert np.isfinite(with_rb) and with_rb > plain > 0


@pytest.mark.parametrize("bad", ["x", True, None, 1j])
def test_compiled_closed_forms_refuse_non_numbers_with_our_error(bad):
    from stochthermo.symbolic import derive_jump, derive_sgd

    f = derive_sgd([[2, "3/5"], ["3/5", 1]], [[1, 0], [0, "1/4"]], "r", "b").compile(
        "stationary_covariance")
    g = derive_jump(W=[["0", "a", "c"], ["b", "0", "a"], ["c", "b", "0"]]).compile(
        "entropy_production_rate")
    with pytest.raises(ValidationError, match="r="):
        f(r=bad, b=8)
    with pytest.raises(ValidationError, match="a="):
        g(a=bad, b=2.0, c=3.0)
    sgd = st.LinearizedSGD([[2, 0.6], [0.6, 1]], [[1, 0], [0, 0.25]], lr=0.05, batch_size=8)
    np.testing.assert_allclose(f(r=0.05, b=8), exact.stationary_covariance(sgd.to_langevin()),
                               rtol=1e-12)
