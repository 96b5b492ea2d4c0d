"""Every example runs in quick mode and writes its output (PNG figures) into a given folder.

The convention, for every script: ``python examples/<name>.py [--out DIR] [--quick]`` (default
folder ``examples/out``); each says what it wrote.
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
    return ["--quick", "--out", str(out)]


@pytest.mark.parametrize("script", _scripts())
def test_example_runs_quick(script, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(script), *_argv(script, out)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wrote " in proc.stdout, f"{script.name} does not say what it wrote"
    assert list(out.rglob("*.png")), f"{script.name} wrote no figure into {out}"
    assert not list(out.rglob("*.tmp")), "temporary files left behind"


def test_new_examples_follow_the_convention():
    for path in sorted(EXAMPLES.glob("*.py")):
        name, text = path.name, path.read_text()
        assert '"--out"' in text and '"--quick"' in text, name
        assert 'default=Path("examples/out")' in text, name
