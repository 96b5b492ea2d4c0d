"""``progress=`` has one meaning: False/None, True (tqdm) or a tqdm-like factory."""

import numpy as np
import pytest

import stochthermo as st
from stochthermo._progress import message_bar, progress_bar
from stochthermo.errors import ValidationError


class Recorder:
    """A tqdm-like factory that records what it was asked and told."""

    def __init__(self):
        self.bars = []

    def __call__(self, *, total, desc, unit):
        bar = _Bar(total, desc, unit)
        self.bars.append(bar)
        return bar


class _Bar:
    def __init__(self, total, desc, unit):
        self.total, self.desc, self.unit = total, desc, unit
        self.done, self.texts, self.closed = 0, [], False

    def update(self, n=1):
        self.done += n

    def set_description(self, text):
        self.texts.append(text)

    def close(self):
        self.closed = True


def test_off_on_and_factory():
    assert progress_bar(None, total=3, desc="x") is None
    assert progress_bar(False, total=3, desc="x") is None
    pytest.importorskip("tqdm")
    bar = progress_bar(True, total=3, desc="x")
    bar.update(3)
    bar.close()
    rec = Recorder()
    bar = progress_bar(rec, total=5, desc="job", unit="chunk")
    assert (bar.total, bar.desc, bar.unit) == (5, "job", "chunk")


def test_refuses_a_non_callable():
    with pytest.raises(ValidationError, match="progress=.*tqdm-like factory"):
        progress_bar("yes", total=1, desc="x")


def test_old_callables_still_work_with_a_warning():
    counts, texts = [], []
    with pytest.warns(DeprecationWarning, match="callable of the count is deprecated"):
        bar = progress_bar(counts.append, total=4, desc="x", legacy="count")
    bar.update(2)
    bar.set_description("ignored")
    assert counts == [2]
    with pytest.warns(DeprecationWarning, match="callable of the message"):
        bar = progress_bar(texts.append, total=4, desc="x", legacy="message")
    bar.set_description("stage 1")
    bar.update(1)
    assert texts == ["stage 1"]
    # where there was no older meaning, a plain callable is taken as a factory
    with pytest.raises(TypeError):
        progress_bar(counts.append, total=4, desc="x")


def test_message_bar_reports_descriptions():
    lines = []
    bar = progress_bar(message_bar(lines.append), total=2, desc="fig41")
    bar.set_description("batch size 10")
    bar.update(1)
    bar.close()
    assert lines == ["batch size 10"]


def test_simulate_jump_drives_a_factory_bar():
    model = st.MarkovJump([[-1.0, 1.0], [2.0, -2.0]])
    rec = Recorder()
    ens = st.simulate_jump(model, n_traj=40, t_max=2.0, dt=0.1, seed=1, progress=rec,
                           chunk_size=10)
    plain = st.simulate_jump(model, n_traj=40, t_max=2.0, dt=0.1, seed=1, chunk_size=10)
    np.testing.assert_array_equal(ens.states, plain.states)
    (bar,) = rec.bars
    assert bar.total == 40 and bar.done == 40 and bar.closed


def test_simulate_drives_a_factory_bar_with_the_same_numbers():
    model = st.LinearLangevin([[1.0, 0.3], [-0.2, 2.0]], [[0.5, 0.0], [0.0, 1.0]])
    rec = Recorder()
    kw = dict(n_traj=8, n_steps=400, dt=0.01, save_every=4, seed=3)
    ens = st.simulate(model, progress=rec, **kw)
    np.testing.assert_array_equal(ens.x, st.simulate(model, **kw).x)
    (bar,) = rec.bars
    assert bar.total == 400 and bar.done == 400 and bar.closed and bar.unit == "step"


def test_diagnose_counts_every_frame_once(tmp_path):
    from test_bridge_diagnostics import write_ensemble

    from stochthermo.bridge import diagnose, diagnose_run, open_runs

    write_ensemble(str(tmp_path), batch_sizes=(1, 10), n_trials=3, n_steps=4)
    runs = open_runs(tmp_path)
    frames = sum(len(r.steps) * len(r.trials) for r in runs)
    rec = Recorder()
    got = diagnose(runs, max_lag=1, progress=rec)
    (bar,) = rec.bars  # one bar over all runs, not one per run
    assert bar.total == bar.done == frames and bar.closed
    assert got.to_dict() == diagnose(runs, max_lag=1).to_dict()
    rec = Recorder()
    diagnose_run(runs[0], max_lag=1, progress=rec)
    assert rec.bars[0].done == len(runs[0].steps) * len(runs[0].trials)
    ticks = []
    with pytest.warns(DeprecationWarning, match="callable of the count"):
        diagnose(runs, max_lag=1, progress=ticks.append)
    assert sum(ticks) == frames
