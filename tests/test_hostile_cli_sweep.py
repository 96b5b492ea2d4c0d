"""Hostile input to the command line (every subcommand but ``analyze``).

Each case is input a user can type: it must exit 2 with one line on stderr naming the flag,
before any long work starts, and never replace a file that is not a regular file.
"""

import os

import pytest

from stochthermo.cli import exit_code, main

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000  # more digits than Python converts to int


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _refused(capsys, argv, *needles):
    code, _, err = _run(capsys, argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def _never(*args, **kwargs):
    raise AssertionError("the work started before the input was checked")


# --------------------------------------------------------------------------- JSON values


@pytest.mark.parametrize("argv, flag", [
    (["simulate", "--A", f"[[{HUGE_INT}]]", "--D", "[[1]]"], "--A"),
    (["derive", "--A", f"[[{HUGE_INT}]]", "--D", "[[1]]"], "--A"),
    (["simulate", "--A", "[[1]]", "--D", "[[1]]", "--x0", DEEP], "--x0"),
    (["simulate", "--A", "[[1]]", "--D", "[[1]]", "--x0", f"[{HUGE_INT}]"], "--x0"),
    (["derive", "--wx", DEEP, "--wy", "[[[0]]]"], "--wx"),
    (["derive", "--wx", f"[[[{HUGE_INT}]]]", "--wy", "[[[0]]]"], "--wx"),
])
def test_unreadable_json_values_are_usage_errors(argv, flag, capsys):
    err = _refused(capsys, argv, flag)
    assert HUGE_INT not in err  # the value is cut short in the message


def test_library_argument_names_become_the_flags(capsys):
    err = _refused(capsys, ["derive", "--hessian", "[[1,0],[0,1]]", "--noise-cov", "[[1]]",
                            "--lr", "r", "--batch-size", "b"], "--noise-cov")
    assert "grad_noise_cov" not in err
    _refused(capsys, ["derive", "--A", '[["1/0", 0], [0, 1]]', "--D", "[[1,0],[0,1]]"],
             "--A[0][0]")
    _refused(capsys, ["derive", "--A", "[[1]]", "--D", "[[1,0],[0,1]]"], "but --D has")


# --------------------------------------------------------------------------- derive --model


def test_derive_model_that_cannot_be_read(tmp_path, capsys):
    _refused(capsys, ["derive", "--model", str(tmp_path)], "--model", "is a folder")
    _refused(capsys, ["derive", "--model", "x" * 5000], "--model", "cannot be read")
    _refused(capsys, ["derive", "--model", "a\x00b"], "--model", "cannot be read")
    big = tmp_path / "big.json"
    big.write_text('{"A": [[' + HUGE_INT + ']], "D": [[1]]}')
    _refused(capsys, ["derive", "--model", str(big)], "is not valid JSON")


# --------------------------------------------------------------------------- file outputs


def test_learn_json_never_replaces_a_special_file(tmp_path, capsys, monkeypatch):
    from stochthermo.learning import GaussianLearner

    monkeypatch.setattr(GaussianLearner, "closed_form", _never)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    _refused(capsys, ["learn", "--json", str(fifo)], "--json", "not a regular file")
    assert fifo.is_fifo()
    if os.path.exists("/dev/null"):
        _refused(capsys, ["learn", "--json", "/dev/null"], "--json")
        assert not os.path.isfile("/dev/null")
    _refused(capsys, ["learn", "--json", str(tmp_path)], "--json", "is a folder")
    _refused(capsys, ["learn", "--json", str(tmp_path / ("a" * 300))], "--json", "shorter")
    _refused(capsys, ["learn", "--json", "a\x00b"], "--json", "NUL")
    afile = tmp_path / "afile"
    afile.write_text("x")
    _refused(capsys, ["learn", "--json", str(afile / "sub.json")], "--json", "not a folder")


def test_simulate_out_never_replaces_a_special_file(tmp_path, capsys, monkeypatch):
    import stochthermo.simulation as simulation

    monkeypatch.setattr(simulation, "simulate", _never)
    fifo = tmp_path / "run.npz"
    os.mkfifo(fifo)
    _refused(capsys, ["simulate", "--A", "[[1]]", "--D", "[[1]]", "--out", str(fifo)],
             "--out", "not a regular file")
    assert fifo.is_fifo()


# --------------------------------------------------------------------------- numbers


def test_simulate_time_that_overflows_is_refused_before_simulating(capsys, monkeypatch):
    import stochthermo.simulation as simulation

    monkeypatch.setattr(simulation, "simulate", _never)
    _refused(capsys, ["simulate", "--A", "[[1]]", "--D", "[[1]]", "--dt", "1e308",
                      "--n-steps", "10"], "--dt", "--n-steps")


@pytest.mark.parametrize("steps", ["-1", "1" + "0" * 20, "1" * 5000, "1," * 100_000])
def test_learn_steps_out_of_range(steps, capsys):
    err = _refused(capsys, ["learn", "--steps", steps], "--steps")
    assert len(err) < 400


@pytest.mark.parametrize("flag, value", [("--data-std", "1e308"), ("--data-std", "1e-320"),
                                         ("--model-std", "1e308"), ("--model-std", "1e-320")])
def test_learn_extreme_scales_are_usage_errors(flag, value, capsys):
    _refused(capsys, ["learn", "--steps", "0,1", flag, value], flag, "moderate values")


# --------------------------------------------------------------------------- experiment


@pytest.mark.parametrize("extra, needle", [
    (["--width", "0"], "--width 0"), (["--trials", "0"], "--trials 0"),
    (["--steps", "0"], "--steps 0"), (["--max-samples", "0"], "--max-samples 0"),
    (["--max-samples", "-1"], "--max-samples -1"), (["--seed", "-1"], "--seed -1"),
    (["--batch-sizes", "1,1"], "twice"), (["--batch-sizes", "1" + "0" * 20], "--batch-sizes"),
    (["--batch-sizes", "1," * 200], "--batch-sizes"),
])
def test_experiment_refuses_before_running(extra, needle, tmp_path, capsys, monkeypatch):
    import stochthermo.learning._fig41 as fig41_module

    monkeypatch.setattr(fig41_module, "fig41", _never)
    _refused(capsys, ["experiment", "fig4.1", "--quick", "--out", str(tmp_path / "o"), *extra],
             needle)
    assert not (tmp_path / "o").exists()


class _Stop(Exception):
    pass


def test_experiment_quick_keeps_a_given_width(tmp_path, capsys, monkeypatch):
    import stochthermo.learning._fig41 as fig41_module

    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(fig41_module, "fig41", fake)
    main(["experiment", "fig4.1", "--quick", "--width", "5", "--out", str(tmp_path / "o")])
    capsys.readouterr()
    assert seen["hidden"] == (5, 5, 5)


def test_memory_error_is_a_usage_error_with_advice(tmp_path, capsys, monkeypatch):
    import stochthermo.learning._fig41 as fig41_module

    def fake(**kwargs):
        raise MemoryError("Unable to allocate 142. PiB for an array")

    monkeypatch.setattr(fig41_module, "fig41", fake)
    _refused(capsys, ["experiment", "fig4.1", "--quick", "--out", str(tmp_path / "o")],
             "not enough memory", "142. PiB", "ask for less")
    assert exit_code(MemoryError()) == 2


# --------------------------------------------------------------------------- demo


def test_demo_refuses_a_negative_seed_before_any_section(tmp_path, capsys, monkeypatch):
    import stochthermo.commands.demo as demo

    for name in list(demo.SECTIONS):
        monkeypatch.setitem(demo.SECTIONS, name, _never)
    _refused(capsys, ["demo", "--seed", "-1", "--out", str(tmp_path / "o")], "--seed -1")
    _refused(capsys, ["demo", "--sections", ",", "--out", str(tmp_path / "o")], "--sections")


def test_demo_runs_a_repeated_section_once(tmp_path, capsys, monkeypatch):
    import stochthermo.commands.demo as demo

    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return {"ok": True}

    monkeypatch.setitem(demo.SECTIONS, "sgd", fake)
    monkeypatch.setattr(demo, "_build_report", lambda result: "<html></html>")
    code, _, err = _run(capsys, ["demo", "--sections", "sgd,sgd," * 1000, "--format", "json",
                                 "--out", str(tmp_path / "o")])
    assert code == 0, err
    assert len(calls) == 1


# --------------------------------------------------------------------------- stderr


def test_warnings_are_one_line_and_numpy_float_notices_are_dropped(capsys, monkeypatch):
    import warnings

    import numpy as np

    import stochthermo.commands.learn as learn

    def run(args):
        with np.errstate(over="warn"):
            np.float64(1e308) * np.float64(10)  # "overflow encountered in scalar multiply"
        warnings.warn("first line\nsecond line", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(learn, "run", run)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        code, _, err = _run(capsys, ["learn"])
    assert code == 0
    assert err.strip() == "stochthermo learn: warning: first line"


def test_derive_refuses_a_huge_matrix_before_parsing_its_entries(tmp_path, capsys):
    import json
    import time

    n = 1000
    big = json.dumps([[1] * n] * n)
    t0 = time.perf_counter()
    _refused(capsys, ["derive", "--A", big, "--D", big, "--allow-slow"], "--A", "1000 rows")
    model = tmp_path / "m.json"
    model.write_text(json.dumps({"hessian": [[1] * 200] * 200, "noise_cov": [[1]], "lr": "r",
                                 "batch_size": "b"}))
    _refused(capsys, ["derive", "--model", str(model)], "'hessian'", "200 rows")
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("argv, advice", [
    (["simulate", "--A", "[[1]]", "--D", "[[1]]", "--n-traj", "100000000000"], "--save-every"),
    (["learn", "--simulate", "100000000000000", "--steps", "0,5"], "--simulate"),
])
def test_budget_advice_names_flags_not_python_arguments(argv, advice, capsys):
    err = _refused(capsys, argv, "nothing was started", advice)
    fix = err.split("nothing was started")[1]
    for python_only in ("max_bytes", "record_every", "param_subset", "reduce=", "save_every"):
        assert python_only not in fix


def test_learn_with_too_few_training_sets_is_a_usage_error(capsys):
    _refused(capsys, ["learn", "--simulate", "2", "--steps", "0,1"], "too few",
             "a larger --simulate")


@pytest.mark.parametrize("argv", [
    ["simulate", "--A", "[[1]]", "--D", "[[1]]", "--n-traj", "4", "--n-steps", "10",
     "--no-progress", "--out", "{out}.npz"],
    ["learn", "--steps", "0,1", "--json", "{out}.json"],
])
def test_interrupted_write_leaves_neither_a_partial_file_nor_a_temporary(argv, tmp_path, capsys,
                                                                         monkeypatch):
    import stochthermo._atomic as atomic

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", interrupted)
    argv = [a.replace("{out}", str(tmp_path / "result")) for a in argv]
    code, _, err = _run(capsys, argv)
    assert code == 130, err
    assert list(tmp_path.iterdir()) == []
