"""The demo end to end (quick mode): report, JSON, and every closed-form comparison."""

import json

import pytest

from stochthermo.cli import main


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out), "--format", "json"]) == 0
    return out


def test_demo_writes_report_and_json(demo_out):
    data = json.loads((demo_out / "results.json").read_text())
    assert set(data) >= {"sgd", "learner", "fig41", "meta"}
    html = (demo_out / "report.html").read_text()
    assert html.count("<table>") >= 4
    assert html.count("data:image/png;base64,") >= 6
    for name in ("sgd_density_current.png", "sgd_entropy_production.png",
                 "learner_information.png", "fig41/fig41c_noise_variance.png"):
        assert (demo_out / "figures" / name).stat().st_size > 1000
    assert not list(demo_out.rglob("*.tmp"))


def test_demo_numbers_agree_with_closed_forms(demo_out):
    data = json.loads((demo_out / "results.json").read_text())
    for row in data["sgd"]["closed_forms"]["rows"]:
        assert row["rel_diff"] < 1e-12, row["name"]
    rows = data["sgd"]["comparison"] + data["learner"]["comparison"]
    bad = [(r["quantity"], r["z"]) for r in rows if r["status"] != "ok"]
    assert not bad
    assert data["learner"]["l_info_le_m_info"]
    fig = data["fig41"]
    assert fig["exponent"] == pytest.approx(-1.0, abs=3 * fig["exponent_stderr"] + 0.1)


def test_demo_bad_section_is_usage_error(capsys, tmp_path):
    assert main(["demo", "--sections", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown section" in capsys.readouterr().err
