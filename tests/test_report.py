"""The HTML report: valid HTML, rendered mathematics, honest rows, references that exist."""

import re

import numpy as np
import pytest
from report_checks import (
    assert_no_raw_latex,
    assert_theory_references,
    assert_valid_html,
    outside_source_blocks,
)

from stochthermo.report import Report

html5lib = pytest.importorskip("html5lib")


def _png():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stochthermo.report import figure_png

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    return figure_png(fig, dpi=20)


def test_report_parts_are_valid_html_with_mathml():
    import sympy as sp

    r, b = sp.symbols("r b", positive=True)
    rep = Report("t <&> report", intro="first paragraph\n\nsecond <b>")
    s = rep.section("section & one")
    s.math("covariance", sp.Eq(sp.Symbol("C"), sp.Matrix([[r / b, 0], [0, sp.Rational(1, 3)]]),
                               evaluate=False))
    s.latex("source only", r"\frac{1}{2}")
    s.table(["a", "b", "status"], [["x<y", 1.5, "ok"], ["z", 2, "CHECK (|z| = 4.0)"]],
            status_col=2, caption="a caption")
    s.settings([("learning rate", "0.1", "per step", "step size"), ("batch", "2", "samples")])
    s.warnings(["too short", "not stationary"])
    s.warnings([])
    s.figure(_png(), "what to look for: <nothing>")
    text = rep.to_html()
    assert_valid_html(text)
    assert_no_raw_latex(text)
    assert '<math display="block">' in text and "<mfrac>" in text
    assert text.count("<summary>LaTeX source</summary>") == 2
    assert "x&lt;y" in text and 'class="bad"' in text and 'class="ok"' in text
    assert len(repr(rep)) < 200 and len(repr(s)) < 200


def _fake_result():
    from stochthermo.commands.demo import _row, closed_form_section

    cf = closed_form_section()
    rows = [_row("C[0,0]", 0.01, 0.0102, 0.0002, "[LL-cov]"),
            _row("entropy production (linear estimator)", 0.27, 0.26, 0.01, "[LL-ep]",
                 kind="estimate", warnings=["the series looks non-stationary"])]
    tur = _row("TUR lower bound", 0.27, 0.1769, 0.0068, "[LL-ep]", kind="lower bound")
    from stochthermo.commands._demo_report import judge_lower_bound

    tur["z"] = None
    tur["status"] = judge_lower_bound(0.1769, 0.27, 0.0068)
    rows.append(tur)
    png = _png()
    fig = {"file": "x.png", "caption": "caption", "png": png}
    grid = np.arange(5)
    return {
        "sgd": {"closed_forms": cf, "simulation": {"n_traj": 4, "n_steps": 10, "dt": 0.01,
                                                   "method": "exact"},
                "comparison": rows, "figures": [fig]},
        "learner": {"parameters": {"mu": 1.0, "lr": 0.1}, "n_steps": 5, "n_datasets": 10,
                    "comparison": [_row("m_info (t = 1)", 0.1, 0.11, 0.01,
                                        "theory/learning.md")],
                    "l_info_le_m_info": True,
                    "closed_form_curves": {"m_info": 0.1 * grid, "l_info": 0.05 * grid},
                    "figures": [fig]},
        "fig41": {"config": {"hidden": [8, 8], "n_trials": 3, "max_samples": None},
                  "data": "teacher", "lr": 0.005, "mean_noise_variance": {1: 1.0, 10: 0.1},
                  "exponent": -0.99123, "exponent_stderr": 0.0031,
                  "lag1_autocorrelation": {1: -0.01, 10: 0.0},
                  "final_accuracy": {1: 0.5, 10: 0.6}, "figures": [fig]},
    }


def test_demo_report_is_honest_and_valid():
    from stochthermo.commands.demo import _build_report

    res = _fake_result()
    text = _build_report(res)
    assert_valid_html(text)
    assert_no_raw_latex(text)
    plain = outside_source_blocks(text)
    # the commutator is not zero, and the report says so with its norm
    assert "Frobenius norm" in plain and "is not zero" in plain
    assert "<mo>=</mo><mn>0</mn>" not in text  # no equation claims a matrix is zero
    comm = [r for r in res["sgd"]["closed_forms"]["rows"] if r["name"] == "commutator"][0]
    assert comm["latex"].startswith(r"[H, \Sigma] = \left[") and "= 0" not in comm["latex"]
    # the TUR row is a bound, judged as a bound
    tur = re.search(r"<tr><td class=\"l\">TUR lower bound</td>.*?</tr>", text).group(0)
    assert ">bound<" in tur and "ok: bound holds" in tur and "lower bound" in tur
    # settings are tables with units, not Python dicts
    assert "{'" not in plain and "per step" in plain
    # the data-processing sentence gives numbers, not 'True'
    assert ": True" not in plain and "nats against" in plain
    # the estimator's warning is shown next to its number
    assert "the series looks non-stationary" in plain
    # error at its real precision
    assert "-0.991 ± 0.003" in plain
    assert "1 s.e." in plain or "one standard error" in plain
    assert_theory_references([plain])
