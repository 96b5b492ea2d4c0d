"""Run every SymPy check script ``theory/check_*.py``.

Each script re-derives the boxed results of one ``theory/<topic>.md`` note and asserts them; a
failed assertion (or any other error) makes the script exit non-zero, which fails its test here.
Scripts are discovered by glob, so a new note's checks are picked up without editing this file.
"""

from __future__ import annotations

import os
import re
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


def _labels(text: str, prefixes=("LL", "SGD")) -> set[str]:
    alternatives = "|".join(prefixes)
    pat = re.compile(r"\[((?:" + alternatives + r")-[A-Za-z0-9-]+)\]")
    return set(pat.findall(text))


def test_cited_labels_are_defined():
    """Every [LL-*] / [SGD-*] label cited in the package or the tests is derived in theory/."""
    defined = _labels((ROOT / "theory" / "linear_langevin.md").read_text())
    defined |= _labels((ROOT / "theory" / "sgd.md").read_text())
    cited = {}
    for path in list((ROOT / "stochthermo").rglob("*.py")) + list((ROOT / "tests").glob("*.py")):
        for label in _labels(path.read_text(encoding="utf-8")):
            cited.setdefault(label, path.relative_to(ROOT).as_posix())
    missing = {k: v for k, v in cited.items() if k not in defined}
    assert not missing, f"labels cited but not defined in theory/: {missing}"


def test_readme_indexes_every_note_and_label():
    readme = (ROOT / "theory" / "README.md").read_text()
    notes = sorted(p.name for p in (ROOT / "theory").glob("*.md") if p.name != "README.md")
    assert notes
    unlisted = [n for n in notes if f"`{n}`" not in readme]
    assert not unlisted, f"theory/README.md does not list {unlisted}"
    for note in ("linear_langevin.md", "sgd.md"):
        labels = _labels((ROOT / "theory" / note).read_text())
        absent = sorted(lab for lab in labels if f"[{lab}]" not in readme)
        assert not absent, f"theory/README.md lacks the labels {absent} of {note}"
