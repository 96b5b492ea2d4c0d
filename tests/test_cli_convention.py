"""One command-line convention for every subcommand.

Exit code 2 for usage and input errors, 1 for failures while running, 0 on success; one error
line on stderr naming the flag; ``--format json`` prints exactly one strict JSON document on
stdout; every option has a help line; every ``theory/`` reference in a help text exists.
"""

import argparse
import json

import numpy as np
import pytest
from report_checks import assert_theory_references

from stochthermo import errors
from stochthermo.cli import build_parser, exit_code, flag_message, main


def _strict(text):
    """``json.loads`` that refuses NaN and infinities (and trailing documents)."""

    def refuse(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _json(capsys, argv):
    code, out, err = _run(capsys, argv)
    assert code == 0, err
    return _strict(out), err


def _subparsers():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub.choices


# --------------------------------------------------------------------------- strict JSON


def test_derive_json_is_strict_numeric_and_symbolic(capsys):
    data, _ = _json(capsys, ["derive", "--A", "[[2, 0.5], [0.5, 1]]", "--D", "[[2, 0], [0, 1]]",
                             "--format", "json"])
    assert data["quantities"]["entropy_production_rate"]["expression"] == "1/24"
    assert not data["model"].startswith("LinearDerivation(")
    data, _ = _json(capsys, ["derive", "--A", '[["k", "w"], ["-w", "k"]]', "--D",
                             '[["T", 0], [0, "T"]]', "--format", "json"])
    assert data["symbols"] == ["T", "k", "w"]


def test_simulate_json_is_strict(capsys):
    data, _ = _json(capsys, ["simulate", "--model", "double-well", "--n-traj", "8",
                             "--n-steps", "20", "--no-progress", "--format", "json"])
    assert data["kind"] == "double-well" and data["n_traj"] == 8
    data, _ = _json(capsys, ["simulate", "--A", "[[1, 0.5], [-0.5, 1]]", "--D",
                             "[[1, 0], [0, 1]]", "--n-traj", "20", "--n-steps", "200",
                             "--no-progress", "--format", "json"])
    assert isinstance(data["entropy_production"].get("warnings", []), list)


def test_learn_json_is_strict_and_carries_warnings(capsys):
    # step 0 has no spread (every run starts alike): non-finite error bars must become null
    data, _ = _json(capsys, ["learn", "--steps", "0,1,3", "--simulate", "60", "--format", "json"])
    assert data["steps"] == [0, 1, 3]
    assert set(data["simulated"]["m_info"]) >= {"value", "stderr", "warnings"}
    code, out, _ = _run(capsys, ["learn", "--steps", "1,3"])
    assert code == 0 and "m_info" in out


def _write_runs(root):
    rng = np.random.default_rng(2)
    for bs, scale in ((1, 1.0), (10, 0.1)):
        for j in range(3):
            folder = root / f"bs{bs}" / f"trial{j}"
            folder.mkdir(parents=True)
            theta = np.zeros(4)
            for s in range(0, 16, 2):
                np.savez(folder / f"step_{s:04d}.npz", w=theta)
                theta = theta - 0.01 * theta + np.sqrt(scale) * 0.01 * rng.normal(size=4)


def test_analyze_json_is_strict(tmp_path, capsys):
    _write_runs(tmp_path / "runs")
    data, _ = _json(capsys, ["analyze", str(tmp_path / "runs"), "--out", str(tmp_path / "o"),
                             "--no-progress", "--max-lag", "2", "--format", "json"])
    assert [r["batch_size"] for r in data["runs"]] == [1, 10]


@pytest.mark.slow
def test_experiment_json_is_strict(tmp_path, capsys):
    data, err = _json(capsys, ["experiment", "fig4.1", "--quick", "--width", "4", "--trials",
                               "3", "--steps", "6", "--max-samples", "60", "--data", "teacher",
                               "--out", str(tmp_path / "e"), "--format", "json"])
    assert data["batch_sizes"] == [1, 10, 100] and data["files"]
    assert "batch size" in err  # progress goes to stderr


def test_demo_json_alone_on_stdout(tmp_path, capsys, monkeypatch):
    from stochthermo.commands import demo

    def section(*, quick, seed, out_figs):
        print("a stray line")  # must not reach stdout in JSON mode
        return {"value": float("nan"), "figures": []}

    monkeypatch.setattr(demo, "SECTIONS", {"a": section})
    monkeypatch.setattr(demo, "_build_report", lambda result: "<html></html>")
    data, err = _json(capsys, ["demo", "--out", str(tmp_path / "r"), "--sections", "a",
                               "--format", "json"])
    assert data["a"]["value"] is None
    assert "report written to" in err and "a stray line" in err


# --------------------------------------------------------------------------- exit codes

BAD_INPUT = {
    "non-square --A": (["--A", "[[1, 2]]", "--D", "[[1]]"], "--A"),
    "non-PSD --D": (["--A", "[[1, 0], [0, 1]]", "--D", "[[1, 0], [0, -1]]"], "--D"),
    "unstable --A": (["--A", "[[-1, 0], [0, 1]]", "--D", "[[1, 0], [0, 1]]"], "--A"),
    "asymmetric --D": (["--A", "[[1, 0], [0, 1]]", "--D", "[[1, 0.5], [0, 1]]"], "--D"),
    "non-square --hessian": (["--hessian", "[[1, 2]]", "--noise-cov", "[[1]]", "--lr", "0.1",
                              "--batch-size", "2"], "--hessian"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
@pytest.mark.parametrize("command", ["derive", "simulate"])
def test_same_bad_input_same_exit_code(command, case, capsys):
    argv, flag = BAD_INPUT[case]
    extra = ["--no-progress", "--n-steps", "10"] if command == "simulate" else []
    code, out, err = _run(capsys, [command, *argv, *extra])
    assert code == 2, err
    assert out == ""
    assert err.startswith(f"stochthermo {command}: error: ") and err.count("\n") == 1, err
    assert flag in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["derive", "simulate"])
def test_unstable_a_gives_the_fix_for_a_not_a_hessian(command, capsys):
    argv, _ = BAD_INPUT["unstable --A"]
    _, _, err = _run(capsys, [command, *argv, "--format", "json"])
    assert "Hessian" not in err and "positive real part" in err


@pytest.mark.parametrize("argv", [
    ["simulate", "--A", "[[1]]", "--D", "[[1]]", "--method", "rk4"],
    ["learn", "--method", "rk4"],
    ["demo", "--sections", "nope"],
    ["experiment", "fig4.1", "--out", "x", "--batch-sizes", "1,ten"],
    ["learn", "--steps", "1,two"],
])
def test_unknown_choices_exit_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, argv)
    assert code == 2 and err.count("\n") == 1 and "error:" in err, err


def test_messages_name_flags_not_python_arguments(capsys):
    _, _, err = _run(capsys, ["simulate", "--model", "double-well", "--method", "exact",
                              "--n-steps", "5", "--no-progress"])
    assert "--method exact" in err and "method='" not in err
    _, _, err = _run(capsys, ["simulate", "--A", "[[1]]", "--D", "[[1]]", "--n-traj", "0"])
    assert "--n-traj" in err and "n_traj" not in err


def test_flag_message_rewrites_arguments():
    parser = build_parser()
    args = parser.parse_args(["simulate", "--A", "[[1]]", "--D", "[[1]]"])
    msg = flag_message("sample more finely, pass more data or use discretization='euler'",
                       "simulate", args)
    assert "discretization" not in msg and "--dt" in msg
    msg = flag_message("method='exact' needs a linear model; use method='euler' or 'heun'",
                       "simulate", args)
    assert msg == "--method exact needs a linear model; use --method euler or heun"
    # a message about a model file keeps the file's key names
    assert flag_message("stochthermo derive: error (in m.json): A must be square", "derive",
                        args) == "in m.json: A must be square"


@pytest.mark.parametrize("exc, code", [
    (errors.ValidationError("x"), 2), (errors.ShapeError("x"), 2), (errors.ModelError("x"), 2),
    (errors.UnstableModelError("x"), 2), (errors.ResourceError("x"), 2),
    (errors.UnsafeFileError("x"), 2), (errors.CorruptFileError("x"), 2),
    (FileNotFoundError("x"), 2), (FileExistsError("x"), 2), (PermissionError("x"), 2),
    (errors.SimulationError("x"), 1),
    (errors.EstimationError("x"), 1), (RuntimeError("x"), 1), (KeyboardInterrupt(), 130),
])
def test_exit_code_mapping(exc, code):
    assert exit_code(exc) == code


@pytest.mark.parametrize("command", ["experiment", "analyze"])
def test_bad_out_is_refused_before_any_work(command, tmp_path, capsys, monkeypatch):
    """An --out that is a file, or lies under one, exits 2 at once, naming --out; the
    experiment or the pass over the runs is never started."""
    import stochthermo.commands.analyze as analyze
    import stochthermo.learning._fig41 as fig41_module

    def never(*a, **k):
        raise AssertionError("the work started before --out was checked")

    monkeypatch.setattr(fig41_module, "fig41", never)
    monkeypatch.setattr(analyze, "_diagnose", never)
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    head = (["experiment", "fig4.1", "--quick"] if command == "experiment"
            else ["analyze", str(tmp_path)])
    for out in (afile, afile / "sub"):
        code, _, err = _run(capsys, [*head, "--out", str(out)])
        assert code == 2, err
        assert "--out" in err and str(out) in err
    assert afile.read_text() == "not a folder"


@pytest.mark.parametrize("name", ["a\x00b", "x" * 300, "y" * 240])
def test_unholdable_out_names_exit_2_at_once(name, tmp_path, capsys, monkeypatch):
    """A NUL byte or a name longer than a file system holds (with room for the temporary
    name used while writing) is an input error, found before any work."""
    import stochthermo.learning._fig41 as fig41_module

    def never(*a, **k):
        raise AssertionError("the work started before --out was checked")

    monkeypatch.setattr(fig41_module, "fig41", never)
    code, _, err = _run(capsys, ["experiment", "fig4.1", "--quick", "--out",
                                 str(tmp_path / name)])
    assert code == 2, err
    assert "--out" in err


def test_simulate_bad_out_is_refused_before_simulating(tmp_path, capsys, monkeypatch):
    import stochthermo.simulation as simulation_pkg

    def never(*a, **k):
        raise AssertionError("simulated before --out was checked")

    monkeypatch.setattr(simulation_pkg, "simulate", never)
    folder = tmp_path / "run.npz"
    folder.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (folder, afile / "run.npz"):
        code, _, err = _run(capsys, ["simulate", "--model", "double-well", "--n-traj", "4",
                                     "--n-steps", "4", "--out", str(out)])
        assert code == 2, err
        assert "--out" in err and str(out) in err


def test_failure_while_running_exits_1(capsys):
    code, _, err = _run(capsys, ["simulate", "--A", "[[50]]", "--D", "[[1]]", "--x0", "fixed",
                                 "--dt", "1.0", "--method", "euler", "--n-traj", "2",
                                 "--n-steps", "400", "--no-progress"])
    assert code == 1 and err.startswith("stochthermo simulate: error:") and err.count("\n") == 1


def test_success_exits_0_and_help_exits_0(capsys):
    assert main(["derive", "--A", "[[1]]", "--D", "[[1]]"]) == 0
    for name in _subparsers()[1]:
        assert main([name, "--help"]) == 0
    capsys.readouterr()


# --------------------------------------------------------------------------- help texts


def test_every_option_has_help():
    parser, subs = _subparsers()
    missing = []
    for owner, p in [("stochthermo", parser), *subs.items()]:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not (action.help and action.help is not argparse.SUPPRESS
                    and action.help.strip()):
                missing.append(f"{owner} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing


def test_theory_references_in_help_exist(capsys):
    texts = []
    for name in _subparsers()[1]:
        assert main([name, "--help"]) == 0
        texts.append(capsys.readouterr().out)
    assert_theory_references(texts)
