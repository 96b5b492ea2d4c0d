"""The command line driven through main([...]): exit codes and output formats."""

import json

import pytest

from stochthermo.cli import main


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "derive" in out and "demo" in out
    assert main(["--version"]) == 0
    assert main([]) == 2


def test_unknown_command_is_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_derive_json(capsys):
    rc = main(["derive", "--A", "[[2, 0.5], [0.5, 1]]", "--D", "[[2, 0], [0, 1]]",
               "--format", "json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    q = data["quantities"]
    assert q["entropy_production_rate"]["expression"] == "1/24"
    assert q["entropy_production_rate"]["value"] == pytest.approx(1 / 24, rel=1e-15)


def test_derive_symbolic_latex(capsys):
    rc = main(["derive", "--A", '[["k", "w"], ["-w", "k"]]', "--D", '[["T", 0], [0, "T"]]',
               "--format", "latex", "--quantity", "entropy_production_rate"])
    assert rc == 0
    assert r"\sigma = \frac{2 w^{2}}{k}" in capsys.readouterr().out


def test_derive_sgd_table(capsys):
    rc = main(["derive", "--hessian", "[[2, 0.6], [0.6, 1]]", "--noise-cov",
               "[[1, 0], [0, 0.25]]", "--lr", "r", "--batch-size", "b"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "commutator" in out and "27/100" in out


def test_derive_model_file(tmp_path, capsys):
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"A": [[1, 0], [0, 2]], "D": [[1, 0], [0, 1]]}))
    assert main(["derive", "--model", str(f), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["quantities"]["entropy_production_rate"][
        "value"] == 0.0


@pytest.mark.parametrize(
    "argv, match",
    [
        (["derive", "--A", "[[1, 0], [0, 1]]"], "missing --D"),
        (["derive"], "give either --A and --D"),
        (["derive", "--A", "[[1,", "--D", "[[1]]"], "is not a JSON list"),
        (["derive", "--model", "/nonexistent/m.json"], "no such file"),
        (["derive", "--A", "[[1]]", "--D", "[[1]]", "--quantity", "nope"], "unknown quantity"),
        (["derive", "--A", "[[1]]", "--D", "[[1]]", "--format", "xml"], "invalid choice"),
    ],
)
def test_derive_usage_errors(argv, match, capsys):
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_derive_refused_input_is_one_line_exit_2(capsys):
    rc = main(["derive", "--A", '[["__import__"]]', "--D", "[[1]]"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "may not contain '__'" in err
    assert main(["--debug", "derive", "--A", '[["x.y"]]', "--D", "[[1]]"]) == 2
    assert "not allowed" in capsys.readouterr().err


def test_demo_closed_forms(capsys):
    # the closed-form section is exercised directly; the full demo has its own tests
    from stochthermo.commands.demo import closed_form_section

    res = closed_form_section()
    assert {r["name"] for r in res["rows"]} >= {"entropy_production_rate", "information_flows"}
    for r in res["rows"]:
        assert r["rel_diff"] < 1e-12, r["name"]
    assert not res["detailed_balance"]["holds"]
