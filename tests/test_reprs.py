"""Public result objects have readable, bounded reprs (no arrays or trees printed whole)."""

import numpy as np

import stochthermo as st


def _write_runs(root, n_runs=3, n_trials=5, n_steps=40):
    rng = np.random.default_rng(0)
    for b in range(n_runs):
        for j in range(n_trials):
            folder = root / f"bs{10 ** b}" / f"trial{j}"
            folder.mkdir(parents=True)
            for s in range(n_steps):
                np.save(folder / f"step_{s:04d}.npy", rng.normal(size=3))


def test_run_tree_and_diagnostics_reprs_are_bounded(tmp_path):
    from stochthermo.bridge import diagnose, open_runs

    _write_runs(tmp_path / "runs")
    runs = open_runs(tmp_path / "runs")
    text = repr(runs)
    assert len(text) < 200 * len(runs) and "Run(name='bs1'" in text and "trials=5" in text
    assert len(repr(runs[0].trials[0])) < 300
    diag = diagnose(runs, max_lag=2)
    assert len(repr(diag)) < 400 and "Diagnostics(runs=" in repr(diag)
    assert len(repr(diag.runs[0])) < 400


def test_ensemble_reprs_are_bounded():
    m = st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], [[1.0, 0.0], [0.0, 0.5]])
    ens = st.simulate(m, n_traj=40, n_steps=300, dt=0.01, seed=1, observables=("heat",))
    assert len(repr(ens)) < 300 and "n_traj=40" in repr(ens)
    g = st.GaussianLearner()
    lens = g.simulate(10, n_datasets=200, seed=0)
    assert len(repr(lens)) < 600 and "n_datasets=200" in repr(lens)
