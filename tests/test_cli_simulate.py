"""``stochthermo simulate`` driven through ``main([...])``: exit codes, JSON, the npz file."""

import json

import numpy as np
import pytest

from stochthermo import exact
from stochthermo.cli import main
from stochthermo.models import LinearLangevin

A = "[[1, 0.8], [-0.8, 1]]"
D = "[[1, 0], [0, 0.3]]"


def _run_json(capsys, *argv):
    code = main(["simulate", *argv, "--format", "json", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_linear_json_agrees_with_closed_forms(capsys):
    s = _run_json(capsys, "--A", A, "--D", D, "--n-traj", "400", "--n-steps", "1000",
                  "--dt", "0.02", "--seed", "3", "--observables", "medium_entropy")
    m = LinearLangevin(np.array(json.loads(A)), np.array(json.loads(D)))
    ep = s["entropy_production"]
    assert ep["exact"] == pytest.approx(exact.entropy_production(m), rel=1e-12)
    assert ep["stderr"] > 0
    assert abs(ep["estimate"] - ep["exact"]) < 4 * ep["stderr"]
    cov = s["stationary_covariance"]
    np.testing.assert_allclose(cov["exact"], exact.stationary_covariance(m), rtol=1e-12)
    est, se = np.array(cov["estimate"]), np.array(cov["stderr"])
    assert np.all(np.abs(est - exact.stationary_covariance(m)) < 4.5 * se)
    me = s["observables"]["medium_entropy"]
    assert abs(me["rate"] - me["rate_exact"]) < 4 * me["rate_stderr"]
    assert len(s["final_mean"]["value"]) == 2


def test_equilibrium_control_has_zero_entropy_production(capsys):
    # symmetric D^-1 A: detailed balance, exact rate 0; the estimate must be consistent with 0
    s = _run_json(capsys, "--A", "[[2, 0.5], [0.5, 1]]", "--D", "[[1, 0], [0, 1]]",
                  "--n-traj", "300", "--n-steps", "800", "--dt", "0.05", "--seed", "4")
    ep = s["entropy_production"]
    assert ep["exact"] == pytest.approx(0.0, abs=1e-12)
    assert abs(ep["estimate"]) < 4 * ep["stderr"]


def test_sgd_compares_with_the_discrete_map(capsys):
    s = _run_json(capsys, "--hessian", "[[2, 0.6], [0.6, 1]]", "--noise-cov",
                  "[[1, 0], [0, 0.25]]", "--lr", "0.05", "--batch-size", "4",
                  "--n-traj", "300", "--n-steps", "2000", "--seed", "1")
    assert s["kind"] == "sgd" and s["time_unit"] == "lr * step"
    ep = s["entropy_production"]
    assert "exact_continuous_limit" in ep
    assert abs(ep["estimate"] - ep["exact"]) < 4 * ep["stderr"]
    cov = s["stationary_covariance"]
    assert cov["max_abs_z"] < 4.5


def test_dragged_trap_work_against_exact_mean(capsys):
    s = _run_json(capsys, "--model", "dragged-trap", "--velocity", "1.0", "--stiffness", "2.0",
                  "--observables", "work", "--n-traj", "1500", "--n-steps", "200",
                  "--dt", "0.01", "--seed", "2")
    w = s["observables"]["work"]
    # the protocol is piecewise constant over a step: O(v^2 dt) difference from the exact mean
    assert abs(w["value"] - w["exact"]) < 4 * w["stderr"] + 0.02


def test_table_output_and_npz(tmp_path, capsys):
    out = tmp_path / "sub" / "run.npz"
    code = main(["simulate", "--model", "double-well", "--n-traj", "16", "--n-steps", "50",
                 "--save-every", "5", "--observables", "heat,work", "--out", str(out),
                 "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0
    assert "mean x at t_final" in text and str(out) in text
    with np.load(out, allow_pickle=False) as z:
        assert z["x"].shape == (16, 11, 1)
        assert z["t"].shape == (11,)
        assert z["heat"].shape[:2] == (16, 11)
        assert z["work"].shape == (16, 11)
        meta = json.loads(str(z["meta_json"]))
    assert meta["kind"] == "double-well"
    assert not [p for p in out.parent.iterdir() if p.name != "run.npz"]  # no temporary left


@pytest.mark.parametrize("argv, needle", [
    ([], "exactly one model"),
    (["--A", A], "needs both --A and --D"),
    (["--A", A, "--D", D, "--model", "double-well"], "exactly one model"),
    (["--A", "[[1, 0", "--D", D], "not a JSON list"),
    (["--A", "[[-1, 0], [0, 1]]", "--D", D], "A"),
    (["--hessian", "[[1]]", "--noise-cov", "[[1]]", "--lr", "0.1"], "--batch-size"),
    (["--hessian", "[[1]]", "--noise-cov", "[[1]]", "--lr", "0.1", "--batch-size", "2",
      "--dt", "0.1"], "--dt does not apply"),
    (["--A", A, "--D", D, "--observables", "heat,entropy"], "unknown observable 'entropy'"),
    (["--A", A, "--D", D, "--n-traj", "0"], "--n-traj"),
    (["--A", A, "--D", D, "--out", "run.txt"], "must end with .npz"),
    (["--model", "double-well", "--x0", "stationary"], "stationary"),
    (["--model", "double-well", "--x0", "[0, 0]"], "x0"),
    (["--model", "triple-well"], "invalid choice"),
])
def test_bad_usage_exits_2(capsys, argv, needle):
    code = main(["simulate", *argv, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_failure_exits_1_with_one_line(capsys):
    # an unstable explicit Euler step (|1 - A dt| > 1) leaves the finite numbers
    code = main(["simulate", "--A", "[[50]]", "--D", "[[1]]", "--x0", "fixed", "--dt", "1.0",
                 "--method", "euler", "--n-traj", "2", "--n-steps", "400", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("stochthermo simulate: error:")
    assert len(err.strip().splitlines()) == 1


def test_help_lists_the_options(capsys):
    assert main(["simulate", "--help"]) == 0
    text = capsys.readouterr().out
    for opt in ("--A", "--hessian", "--model", "--n-traj", "--observables", "--out",
                "--format"):
        assert opt in text
