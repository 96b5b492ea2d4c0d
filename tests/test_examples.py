"""Every example runs in quick mode and writes its output (PNG figures) into a given folder.

The convention is ``python examples/<name>.py [--out DIR] [--quick]``. Older examples that take
the folder as a positional argument are called that way (detected from their source).
"""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
#: examples that take more than ~15 s in quick mode on 2 shared cores
SLOW = {"fig41_simulation.py"}


def _scripts():
    out = []
    for p in sorted(EXAMPLES.glob("*.py")):
        marks = [pytest.mark.slow] if p.name in SLOW else []
        out.append(pytest.param(p, id=p.stem, marks=marks))
    return out


def _argv(script: pathlib.Path, out: pathlib.Path):
    if '"--out"' in script.read_text():
        return ["--quick", "--out", str(out)]
    return [str(out), "--quick"]


@pytest.mark.parametrize("script", _scripts())
def test_example_runs_quick(script, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(script), *_argv(script, out)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(out.rglob("*.png")), f"{script.name} wrote no figure into {out}"
    assert not list(out.rglob("*.tmp")), "temporary files left behind"


def test_new_examples_follow_the_convention():
    for name in ("quickstart_linearized_sgd.py", "entropy_production_vs_theory.py",
                 "brownian_gyrator.py", "fig41_from_checkpoints.py"):
        text = (EXAMPLES / name).read_text()
        assert '"--out"' in text and '"--quick"' in text, name
        assert 'default=Path("examples/out")' in text, name
