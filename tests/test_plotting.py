"""Each plotting function draws on small inputs (Agg backend), returns its axes, labels them."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import stochthermo as st  # noqa: E402
from stochthermo import plotting as P  # noqa: E402
from stochthermo.errors import ShapeError, ValidationError  # noqa: E402
from stochthermo.results import Estimate  # noqa: E402

MODEL = st.LinearLangevin([[1.0, 0.8], [-0.8, 1.0]], [[1.0, 0.0], [0.0, 0.3]])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled(ax):
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip()
    assert ax.get_legend() is not None


def _ensemble(**kw):
    return st.simulate(MODEL, n_traj=12, n_steps=40, dt=0.05, seed=1, **kw)


def test_palette_roles():
    assert set(P.PALETTE) == {"theory", "simulation", "estimate", "data"}
    assert len(set(P.PALETTE.values())) == 4


def test_plot_trajectories_single_and_multi():
    ens = _ensemble(x0=[1.0, -1.0])
    ax = P.plot_trajectories(ens, n_show=5, model=MODEL)
    assert isinstance(ax, matplotlib.axes.Axes)
    _labelled(ax)
    assert "1/A" in ax.get_xlabel()
    axes = P.plot_trajectories(ens, coords=(0, 1), show_mean=False)
    assert axes.shape == (2,)
    for a in axes:
        _labelled(a)
    fig, given = plt.subplots()
    assert P.plot_trajectories(ens, ax=given) is given
    with pytest.raises(ValidationError, match="coordinate 5"):
        P.plot_trajectories(ens, coords=5)


def test_plot_trajectories_sgd_time_label():
    m = st.LinearizedSGD([[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 0.2]], lr=0.05,
                         batch_size=2)
    ens = st.simulate(m, n_traj=8, n_steps=20, seed=2, x0=[0.3, 0.1])
    ax = P.plot_trajectories(ens, model=m)
    assert "SGD" in ax.get_xlabel()


def test_plot_stationary_density_with_current_and_samples():
    ens = _ensemble(x0="stationary")
    ax = P.plot_stationary_density(MODEL, samples=ens, n_grid=40)
    _labelled(ax)
    assert "nats/time" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("current" in s for s in labels)
    assert any("simulated" in s for s in labels)


def test_plot_stationary_density_detailed_balance_and_marginal():
    eq = st.LinearLangevin([[2.0, 0.5], [0.5, 1.0]], np.eye(2))
    ax = P.plot_stationary_density(eq, n_grid=30, colorbar=False)
    assert any("detailed balance" in t.get_text() for t in ax.texts)
    m3 = st.LinearLangevin([[1.0, 0.5, 0.0], [-0.5, 1.0, 0.2], [0.0, -0.2, 1.0]], np.eye(3))
    ax = P.plot_stationary_density(m3, dims=(0, 2), n_grid=30)
    assert "x_{3}" in ax.get_ylabel()
    with pytest.raises(ValidationError, match="dimension >= 2"):
        P.plot_stationary_density(st.LinearLangevin([[1.0]], [[1.0]]))
    with pytest.raises(ValidationError, match="dims"):
        P.plot_stationary_density(MODEL, dims=(0, 0))


def test_plot_entropy_production_forms():
    x = np.array([0.0, 0.5, 1.0])
    th = 2 * x**2
    ests = [Estimate(v + 0.01, 0.05) for v in th]
    ax = P.plot_entropy_production(x, ests, th)
    _labelled(ax)
    assert "nats/time" in ax.get_ylabel()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("max |z| = 0.2" in s for s in texts)
    ax = P.plot_entropy_production(x, {"a": ests, "b": (th, 0.1 * np.ones(3))},
                                   lambda e: 2 * e * e)
    assert len(ax.get_legend().get_texts()) == 3
    with pytest.raises(ShapeError):
        P.plot_entropy_production(x, ests[:2], th)


def test_plot_information_theory_and_simulation():
    t = np.arange(10)
    ts = np.arange(0, 10, 3)
    curves = {
        "m_info": {"theory": 0.1 * t, "simulation": (ts, Estimate(0.1 * ts, 0.01 + 0 * ts))},
        "l_info": {"theory": 0.05 * t},
        "custom": 0.02 * t,
    }
    ax = P.plot_information(t, curves)
    _labelled(ax)
    texts = [s.get_text() for s in ax.get_legend().get_texts()]
    assert any("M-info" in s for s in texts) and any("custom" in s for s in texts)
    assert any("simulation" in s for s in texts)
    assert "nats" in ax.get_ylabel()
    with pytest.raises(ValidationError, match="unknown keys"):
        P.plot_information(t, {"m_info": {"theroy": t}})
    with pytest.raises(ShapeError):
        P.plot_information(t, {"m_info": {"theory": t[:3]}})


def test_plot_convergence_fits_the_slope():
    dts = np.array([0.2, 0.1, 0.05, 0.025])
    err = 0.3 * dts**1.5
    ax = P.plot_convergence(dts, err, order=1.5)
    _labelled(ax)
    texts = [s.get_text() for s in ax.get_legend().get_texts()]
    assert any("slope 1.50" in s for s in texts)
    slope = st.estimate.loglog_slope(dts, err).value
    assert slope == pytest.approx(1.5, abs=1e-12)
    with pytest.warns(DeprecationWarning, match="estimate.loglog_slope"):
        assert P.fit_slope(dts, err)[0] == pytest.approx(1.5, abs=1e-12)
    ests = [Estimate(e, 0.1 * e) for e in err]
    ax = P.plot_convergence(dts, ests, slope=(1.4, 0.1))
    assert any("1.40 ± 0.10" in s.get_text() for s in ax.get_legend().get_texts())
    with pytest.raises(ValidationError, match="> 0"):
        P.plot_convergence(dts, -err)


def _fig41_data(rng, bs=(1, 10)):
    K, T = 4, 12
    return {
        "batch_sizes": bs,
        "steps": np.arange(T),
        "shown": {b: np.cumsum(rng.standard_normal((K, T, 2)), axis=1) for b in bs},
        "eval_steps": np.arange(0, T, 3),
        "accuracy_mean": {b: np.linspace(0.1, 0.8, 4) for b in bs},
        "accuracy_var": {b: np.full(4, 0.01) for b in bs},
        "noise_var": {b: np.full(T - 1, 1.0 / b) for b in bs},
        "reference": {b: np.full(4, 0.5) for b in bs},
        "reference_steps": np.arange(0, T, 3),
        "autocorr": {b: np.r_[1.0, 0.02 * rng.standard_normal(3)] for b in bs},
        "exponent": -1.0,
        "exponent_stderr": 0.05,
    }


def test_plot_fig41_panels_from_dict():
    axes = P.plot_fig41_panels(_fig41_data(np.random.default_rng(0)))
    assert axes.shape == (2, 2)
    for a in axes.ravel():
        assert a.get_xlabel() and a.get_ylabel() and a.get_title()
    assert "-1.00" in axes[1, 0].get_title()
    with pytest.raises(ValidationError, match="missing"):
        P.plot_fig41_panels({"batch_sizes": (1,)})
    with pytest.raises(ValidationError, match="show_batch"):
        P.plot_fig41_panels(_fig41_data(np.random.default_rng(0)), show_batch=7)


def test_fig41_data_from_bridge_diagnostics(tmp_path):
    from stochthermo.bridge import TrajectoryWriter, diagnose, open_runs

    rng = np.random.default_rng(5)
    theta0 = rng.standard_normal(6)
    for b in (1, 10):
        for k in range(4):
            th = theta0.copy()
            with TrajectoryWriter(tmp_path / f"bs{b}" / f"trial{k}") as w:
                for step in range(8):
                    w.write(step, {"w": th.copy()}, scalars={"accuracy": 0.1 * step})
                    th = th - 0.1 * th + 0.1 * rng.standard_normal(6) / np.sqrt(b)
    diag = diagnose(open_runs(tmp_path), max_lag=3)
    data = P.fig41_data_from_diagnostics(diag)
    assert data["batch_sizes"] == (1, 10)
    assert "exponent" in data
    axes = P.plot_fig41_panels(data)
    assert "accuracy" in axes[0, 1].get_ylabel()


def test_savefig_atomic(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = P.savefig_atomic(fig, tmp_path / "deep" / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["f.png"]
    with pytest.raises(ValidationError, match="suffix"):
        P.savefig_atomic(fig, tmp_path / "nosuffix")


def test_public_surface():
    for name in P.__all__:
        assert hasattr(P, name), name
