"""Symbolic closed forms of jump processes against the numeric exact layer and by hand."""

import numpy as np
import pytest
import sympy as sp

import stochthermo as st
from stochthermo import _exact_jump as ej
from stochthermo.errors import ModelError, ResourceError, ShapeError, ValidationError
from stochthermo.symbolic import derive_jump, derive_sensor


def _random_rates(rng, nx, ny):
    # three decimals: the numbers SymPy reads are exactly the floats the numeric layer uses
    wx = np.round(rng.uniform(0.2, 3.0, (ny, nx, nx)), 3)
    wy = np.round(rng.uniform(0.2, 3.0, (nx, ny, ny)), 3)
    return wx, wy


def _num(expr):
    if isinstance(expr, sp.MatrixBase):
        return np.array([float(sp.N(v, 30)) for v in expr], dtype=float).reshape(expr.shape)
    return float(sp.N(expr, 30))


@pytest.mark.parametrize("nx,ny", [(2, 2), (2, 3), (3, 2), (3, 3), (4, 4)])
def test_exact_against_sympy(nx, ny):
    wx, wy = _random_rates(np.random.default_rng(nx * 10 + ny), nx, ny)
    d = derive_jump(wx.tolist(), wy.tolist())
    m = st.BipartiteJump(wx, wy)
    np.testing.assert_allclose(_num(d.stationary_distribution)[:, 0],
                               ej.stationary_distribution(m), rtol=1e-12)
    pairs = [
        ("entropy_production_rate", ej.entropy_production_rate(m)),
        ("environment_entropy_flows", ej.environment_entropy_flows(m)),
        ("information_flows", ej.information_flows(m)),
        ("subsystem_entropy_production", ej.subsystem_entropy_production(m)),
        ("mutual_information", ej.mutual_information(m)),
    ]
    if nx * ny <= 9:
        pairs += [("learning_efficiency", ej.learning_efficiency(m)),
                  ("probability_currents", ej.probability_currents(m))]
    for name, value in pairs:
        got = np.asarray(_num(d.expression(name)))
        got = got[:, 0] if got.ndim == 2 and got.shape[1] == 1 else got
        scale = max(1.0, float(np.max(np.abs(value))))
        np.testing.assert_allclose(got, value, rtol=1e-12, atol=1e-12 * scale, err_msg=name)


def test_sensor_closed_form_in_w_a_b():
    d = derive_sensor()
    w, a, b = (sp.Symbol(s, positive=True) for s in "wab")
    q = (a + w) / (a + b + 2 * w)
    p = d.stationary_distribution
    assert sp.simplify(p[0] - q / 2) == 0 and sp.simplify(p[1] - (1 - q) / 2) == 0
    flux = w * (a - b) / (a + b + 2 * w)
    assert sp.simplify(flux - (a * (1 - q) - b * q)) == 0
    checks = {
        "entropy_production_rate": flux * sp.log(a / b),
        "learning_efficiency": sp.log(q / (1 - q)) / sp.log(a / b),
    }
    for name, ref in checks.items():
        diff = sp.expand_log(d.expression(name) - ref, force=True)
        assert sp.simplify(diff) == 0, name
    ix, iy = d.information_flows
    assert sp.simplify(sp.expand_log(ix - flux * sp.log(q / (1 - q)), force=True)) == 0
    assert sp.simplify(ix + iy) == 0
    # the closed forms are free of subsystem-Y dissipation: the signal's rates are symmetric
    assert d.environment_entropy_flows[1] == 0
    assert d.expression("entropy_production_rate").free_symbols == {w, a, b}


def test_compiled_sensor_matches_exact_and_broadcasts():
    d = derive_sensor()
    rng = np.random.default_rng(2)
    f_ep = d.compile("entropy_production_rate")
    f_flow = d.compile("information_flows")
    f_eta = d.compile("learning_efficiency")
    assert f_ep.arguments == ("a", "b", "w")
    for _ in range(5):
        w, a, b = rng.uniform(0.1, 5.0, 3)
        m = st.BipartiteJump.sensor(w, a, b)
        assert f_ep(a=a, b=b, w=w) == pytest.approx(ej.entropy_production_rate(m), rel=1e-12)
        np.testing.assert_allclose(f_flow(a=a, b=b, w=w), ej.information_flows(m), rtol=1e-12)
        assert f_eta(a=a, b=b, w=w) == pytest.approx(ej.learning_efficiency(m), rel=1e-12)
    ws = np.linspace(0.1, 3.0, 7)
    assert f_ep(a=2.0, b=0.5, w=ws).shape == (7,)
    assert f_flow(a=2.0, b=0.5, w=ws).shape == (7, 2)
    assert "[JP-ep]" in f_ep.__doc__
    assert r"\log" in d.latex("information_flows")
    with pytest.raises(ValidationError, match="keyword"):
        f_ep(a=1.0, b=2.0)


def test_general_rate_matrix_and_strings():
    d = derive_jump(W="[[0, k, 2], [1, 0, k], [3, 1, 0]]")
    m = st.MarkovJump([[0, 1.5, 2], [1, 0, 1.5], [3, 1, 0]])
    f = d.compile("entropy_production_rate")
    assert f(k=1.5) == pytest.approx(ej.entropy_production_rate(m), rel=1e-12)
    np.testing.assert_allclose(d.compile("stationary_distribution")(k=1.5),
                               ej.stationary_distribution(m), rtol=1e-12)
    assert "information_flows" not in d.names
    with pytest.raises(ModelError, match="bipartite"):
        _ = d.information_flows
    s = derive_jump("[[[0, a], [b, 0]], [[0, b], [a, 0]]]", "[[[0, w], [w, 0]], [[0, w], [w, 0]]]")
    assert sp.simplify(s.entropy_production_rate - derive_sensor().entropy_production_rate) == 0


def test_detailed_balance_gives_zero_symbolically():
    # rates from energies E0, E1 with a symmetric barrier: W_ij = exp(E_j - B)
    d = derive_jump(W=[["0", "exp(E1 - B)"], ["exp(E0 - B)", "0"]])
    assert sp.simplify(d.entropy_production_rate) == 0
    assert sp.simplify(d.probability_currents) == sp.zeros(2, 2)


def test_bad_input():
    with pytest.raises(ModelError, match="reverse"):
        derive_jump(W=[[0, 1], [0, 0]])
    with pytest.raises(ValidationError, match="non-negative"):
        derive_jump(W=[[0, -1], [1, 0]])
    with pytest.raises(ModelError, match="irreducible"):
        derive_jump(W=[[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    with pytest.raises(ShapeError):
        derive_jump(np.ones((2, 2, 2)).tolist(), np.ones((3, 2, 2)).tolist())
    with pytest.raises(ShapeError):
        derive_jump(W=[1, 2, 3])
    with pytest.raises(ValidationError):
        derive_jump(W="[[0, __import__('os')], [1, 0]]")
    with pytest.raises(ResourceError, match="too many"):
        derive_jump(W=[[f"k{i}{j}" if i != j else 0 for j in range(7)] for i in range(7)])
    with pytest.raises(ValidationError, match="not both"):
        derive_jump([[[0]]], [[[0]]], W=[[0, 1], [1, 0]])
    with pytest.raises(ValidationError, match="unknown quantity"):
        derive_sensor().expression("heat")
    with pytest.raises(ValidationError, match="unbalanced"):
        derive_jump(W="[[0, 1], [1, 0]")


def test_derive_command_line(capsys):
    import json

    from stochthermo.cli import main

    wx = "[[[0,a],[b,0]],[[0,b],[a,0]]]"
    wy = "[[[0,w],[w,0]],[[0,w],[w,0]]]"
    assert main(["derive", "--wx", wx, "--wy", wy, "--quantity", "learning_efficiency"]) == 0
    assert "log((b + w)/(a + w))/log(b/a)" in capsys.readouterr().out
    assert main(["derive", "--wx", "[[[0,4],[0.5,0]],[[0,0.5],[4,0]]]",
                 "--wy", "[[[0,1],[1,0]],[[0,1],[1,0]]]", "--format", "json",
                 "--quantity", "entropy_production_rate"]) == 0
    doc = json.loads(capsys.readouterr().out)
    value = doc["quantities"]["entropy_production_rate"]["value"]
    assert value == pytest.approx(ej.entropy_production_rate(st.BipartiteJump.sensor(1, 4, 0.5)),
                                  rel=1e-12)
    assert main(["derive", "--wx", "[[[0,2],[0,0]],[[0,1],[2,0]]]", "--wy", wy]) == 2
    assert "reverse" in capsys.readouterr().err
    assert main(["derive", "--wx", wx]) == 2
    assert main(["derive", "--wx", wx, "--wy", wy, "--A", "[[1]]"]) == 2


@pytest.mark.parametrize("rate", ["-a", "-a*b", "sqrt(-a)", "-exp(a)"])
def test_a_rate_negative_for_every_positive_symbol_is_refused(rate):
    """Symbols are positive rates: a rate that is negative (or not real) for all of them is
    refused, naming the entry; an undecided one (a - b) is accepted."""
    with pytest.raises(ValidationError, match=r"W\[0\]\[1\]"):
        derive_jump(W=[["0", rate], ["a", "0"]])
    assert derive_jump(W=[["0", "a - b"], ["a", "0"]]).n_states == 2
