"""Run every SymPy check script ``theory/check_*.py``.

Each script re-derives the boxed results of one ``theory/<topic>.md`` note and asserts them; a
failed assertion (or any other error) makes the script exit non-zero, which fails its test here.
Scripts are discovered by glob, so a new note's checks are picked up without editing this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "theory").glob("check_*.py"))


def test_theory_scripts_exist():
    names = {p.name for p in SCRIPTS}
    assert {"check_linear_langevin.py", "check_sgd.py"} <= names, names


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_theory_check_script(script: Path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("MPLBACKEND", "Agg")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{script.name} exited with status {proc.returncode}\n"
            f"--- stdout (tail) ---\n{proc.stdout[-3000:]}\n"
            f"--- stderr (tail) ---\n{proc.stderr[-3000:]}"
        )
    assert "OK" in proc.stdout, f"{script.name} printed no OK line:\n{proc.stdout[-2000:]}"
