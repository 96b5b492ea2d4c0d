"""Checks shared by the report and command-line tests: valid HTML, no raw LaTeX, references."""

import io
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def assert_valid_html(text):
    """Parse with html5lib in strict mode: any parse error raises."""
    import html5lib

    html5lib.HTMLParser(strict=True).parse(io.StringIO(text))


def outside_source_blocks(text):
    """The report without its LaTeX source blocks (``<details>`` holding a ``<pre>``)."""
    return re.sub(r"<details[^>]*>.*?</details>", "", text, flags=re.S)


def assert_no_raw_latex(text):
    """No LaTeX markup outside the source blocks (equations are MathML there)."""
    rest = outside_source_blocks(text)
    for token in (r"\begin{", r"\frac", r"\left[", r"\sigma"):
        assert token not in rest, token


def assert_theory_references(texts):
    """Every ``theory/...`` path in ``texts`` exists; no reference to a ``theory.md`` section."""
    refs = set()
    for t in texts:
        assert not re.search(r"theory\.md\b", t.replace("theory/", "")), \
            "reference to a theory.md the project does not have"
        refs.update(m.rstrip(".,;:)") for m in re.findall(r"theory/[\w./-]+", t))
    missing = [r for r in sorted(refs) if not (ROOT / r).exists()]
    assert not missing, missing
