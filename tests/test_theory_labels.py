"""Cross-references into theory/: every cited label is defined, every cited file exists.

Docstrings cite derivations by bracket labels such as ``[LL-cov]`` and by paths such as
``theory/bridge.md``. A label counts as *defined* when a note (a ``theory/*.md`` other than the
index) has it on a heading line, at the start of a bold paragraph (``**[EST-jk] ...``) or in the
first cell of a table row; a mere mention in prose does not define it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "theory"
LABEL = re.compile(r"\[[A-Z]+-[A-Za-z0-9-]+\]")
PATH = re.compile(r"theory/([A-Za-z0-9_.-]+\.(?:md|py))")
_DEFINING = re.compile(r"^(#+ |\*\*|\| )")


def defined_labels(texts) -> set[str]:
    """Labels on defining lines (headings, bold paragraph starts, table rows) of ``texts``."""
    out = set()
    for text in texts:
        for line in text.splitlines():
            if not _DEFINING.match(line):
                continue
            if line.startswith("**"):
                end = line.find("**", 2)
                line = line[: end if end > 0 else len(line)]
            elif line.startswith("| "):
                line = line.split("|")[1]
            out.update(LABEL.findall(line))
    return out


def cited_labels(texts) -> set[str]:
    return {lab for text in texts for lab in LABEL.findall(text)}


def missing_paths(texts) -> set[str]:
    return {f"theory/{name}" for text in texts for name in PATH.findall(text)
            if not (THEORY / name).is_file()}


def _notes() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(THEORY.glob("*.md"))
            if p.name != "README.md"]


def _package_sources() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((ROOT / "stochthermo").rglob("*.py"))]


def test_every_label_cited_in_the_package_is_defined_in_a_note():
    cited = cited_labels(_package_sources())
    assert len(cited) > 30  # the package does cite labels; an empty scan would pass vacuously
    missing = sorted(cited - defined_labels(_notes()))
    assert not missing, f"labels cited in stochthermo/ but defined in no theory note: {missing}"


def test_every_label_of_the_index_and_the_readme_is_defined():
    texts = [(THEORY / "README.md").read_text(encoding="utf-8"),
             (ROOT / "README.md").read_text(encoding="utf-8")]
    missing = sorted(cited_labels(texts) - defined_labels(_notes()))
    assert not missing, f"labels in theory/README.md or README.md defined in no note: {missing}"


def test_every_defined_label_is_in_the_index():
    index = (THEORY / "README.md").read_text(encoding="utf-8")
    absent = sorted(defined_labels(_notes()) - cited_labels([index]))
    assert not absent, f"labels defined in theory notes but missing from theory/README.md: {absent}"


def test_every_theory_file_is_in_the_index():
    index = (THEORY / "README.md").read_text(encoding="utf-8")
    files = [p.name for p in THEORY.iterdir()
             if p.suffix in (".md", ".py") and p.name != "README.md"]
    assert files
    absent = sorted(f for f in files if f not in index)
    assert not absent, f"theory files not listed in theory/README.md: {absent}"


def test_every_theory_path_mentioned_exists():
    texts = [*_package_sources(), (ROOT / "README.md").read_text(encoding="utf-8"),
             (THEORY / "README.md").read_text(encoding="utf-8")]
    assert any(PATH.search(t) for t in texts)
    missing = sorted(missing_paths(texts))
    assert not missing, f"theory files cited but absent: {missing}"


def test_controls_the_checks_can_fail():
    note = ("## 3. Stationary covariance  [XX-cov]\n"
            "**[XX-jk] Jackknife.** as in [XX-prose]\n"
            "| [XX-row] | result [XX-cell] |\n"
            "plain text [XX-plain]\n")
    assert defined_labels([note]) == {"[XX-cov]", "[XX-jk]", "[XX-row]"}
    doc = "See ``theory/bridge.md`` [XX-cov] and [XX-prose]; theory/no_such_note.md."
    assert cited_labels([doc]) - defined_labels([note]) == {"[XX-prose]"}
    assert missing_paths([doc]) == {"theory/no_such_note.md"}
