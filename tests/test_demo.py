"""The demo end to end (quick mode): report, JSON, and every closed-form comparison."""

import contextlib
import io
import json

import pytest
from report_checks import (
    assert_no_raw_latex,
    assert_theory_references,
    assert_valid_html,
    outside_source_blocks,
)

from stochthermo.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["demo", "--quick", "--out", str(out), "--format", "json"]) == 0
    return out, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def demo_out(demo_run):
    return demo_run[0]


def test_demo_json_stdout_is_one_strict_document(demo_run):
    out, stdout, stderr = demo_run

    def refuse(name):
        raise ValueError(name)

    data = json.loads(stdout, parse_constant=refuse)
    assert data == json.loads((out / "results.json").read_text())
    assert "report written to" in stderr and "report written to" not in stdout


def test_demo_report_renders_math_and_is_honest(demo_out):
    text = (demo_out / "report.html").read_text()
    assert_valid_html(text)
    assert_no_raw_latex(text)
    assert text.count('<math display="block">') >= 9  # one per closed form
    plain = outside_source_blocks(text)
    assert_theory_references([plain])
    assert "lower bound" in plain and "bound holds" in plain
    assert "Frobenius norm" in plain
    for placeholder in ("fig41a parameters", "fig41c noise variance", ": True"):
        assert placeholder not in plain
    assert plain.count("What to look for") >= 7


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
    bad = [(r["quantity"], r["z"]) for r in rows if not r["status"].startswith("ok")]
    assert not bad
    assert data["learner"]["l_info_le_m_info"]
    fig = data["fig41"]
    assert fig["exponent"] == pytest.approx(-1.0, abs=3 * fig["exponent_stderr"] + 0.1)


def test_demo_bad_section_is_usage_error(capsys, tmp_path):
    assert main(["demo", "--sections", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown section" in capsys.readouterr().err


def test_unfinished_warmup_is_stopped_after_its_grace_time(monkeypatch):
    import subprocess
    import sys
    import time

    from stochthermo.commands import demo

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    t0 = time.perf_counter()
    demo._finish_warmup(proc, wait=0.2)
    assert proc.poll() is not None  # stopped, not waited for
    assert time.perf_counter() - t0 < 15
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    demo._finish_warmup(done, wait=30)
    assert done.returncode == 0  # a finished warm-up is waited for, not killed
    monkeypatch.setenv("STOCHTHERMO_NO_WARMUP", "1")
    assert demo._start_warmup(["sgd", "fig41"]) is None
    monkeypatch.delenv("STOCHTHERMO_NO_WARMUP")
    assert demo._start_warmup(["fig41", "sgd"]) is None  # nothing runs before it
