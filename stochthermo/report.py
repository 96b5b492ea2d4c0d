"""A small, self-contained HTML report: sections with text, tables, equations and figures.

No template engine, no script and no external asset: figures are embedded as base64 ``data:``
URIs and equations as MathML (rendered natively by current browsers, no network needed), so the
report is one file that can be mailed or archived. Each equation keeps its LaTeX source one
click away (a ``<details>`` block with the source in ``<pre>``, ready to copy). Text is
HTML-escaped; the only markup that is not escaped is the MathML that SymPy's presentation
printer produces from an expression.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from matplotlib.figure import Figure

__all__ = ["Report", "Section", "figure_png", "mathml"]

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
caption { caption-side: top; text-align: left; font-size: 0.9em; color: #444;
          padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right;
         vertical-align: top; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
td.ok { color: #1a7f37; } td.bad { color: #b42318; font-weight: bold; }
td.warn { color: #9a6700; text-align: left; font-size: 0.85em; }
figure { margin: 1em 0; } figcaption { font-size: 0.88em; color: #444; max-width: 60em; }
img { max-width: 100%; } code { font-family: ui-monospace, monospace; font-size: 0.9em; }
.eq { margin: 0.6em 0 0.9em 0; } .eq .name { font-size: 0.85em; color: #555; }
math { font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "STIXGeneral", math; }
math[display="block"] { margin: 0.3em 0; font-size: 1.1em; overflow-x: auto; }
details { font-size: 0.8em; color: #555; }
details pre { background: #f7f7f7; padding: 0.4em 0.6em; white-space: pre-wrap;
              word-break: break-all; }
.note { color: #555; font-size: 0.9em; }
ul.warn { color: #9a6700; font-size: 0.9em; }
"""


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def mathml(expr: Any) -> str:
    """Presentation MathML (without the outer ``<math>``) of a SymPy expression or equation."""
    from sympy.printing.mathml import mathml as _mathml

    return _mathml(expr, printer="presentation")


_LEFT = ' class="l"'


def _cell(value, cls):
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{html.escape(str(value))}</td>"


@dataclass
class Section:
    """One report section: paragraphs, tables, equations and figures, in order."""

    title: str
    parts: list = field(default_factory=list)

    def text(self, s: str, *, note: bool = False) -> None:
        """A paragraph (escaped)."""
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{html.escape(s)}</p>")

    def heading(self, s: str) -> None:
        """A sub-heading inside the section."""
        self.parts.append(f"<h3>{html.escape(s)}</h3>")

    def math(self, name: str, expr: Any, *, tex: str | None = None) -> None:
        """An equation rendered as MathML, with its LaTeX source one click away.

        Parameters
        ----------
        name : str
            What the equation is (shown above it).
        expr : sympy.Basic
            The expression or equation (e.g. ``sympy.Eq(C, matrix)``).
        tex : str, optional
            LaTeX source to offer for copying; default ``sympy.latex(expr)``.
        """
        import sympy as sp

        source = sp.latex(expr) if tex is None else tex
        self.parts.append(
            f'<div class="eq"><div class="name">{html.escape(name)}</div>'
            f'<math display="block">{mathml(expr)}</math>'
            f"<details><summary>LaTeX source</summary><pre>{html.escape(source)}</pre>"
            "</details></div>"
        )

    def latex(self, name: str, tex: str) -> None:
        """A formula available only as LaTeX: its source in a copyable block."""
        self.parts.append(
            f'<div class="eq"><div class="name">{html.escape(name)}</div>'
            f"<details open><summary>LaTeX source</summary><pre>{html.escape(tex)}</pre>"
            "</details></div>"
        )

    def table(self, headers: Sequence[str], rows: Any, *, status_col: int | None = None,
              caption: str | None = None, left: Sequence[int] = (0,),
              warn_col: int | None = None) -> None:
        """A table.

        With ``status_col``, cells starting with 'ok' are green and others red; columns in
        ``left`` are left-aligned; ``warn_col`` marks a column of estimator warnings.
        """
        out = ["<table>"]
        if caption:
            out.append(f"<caption>{html.escape(caption)}</caption>")
        out.append("<thead><tr>")
        out += [f"<th{_LEFT if j in left else ''}>{html.escape(str(h))}</th>"
                for j, h in enumerate(headers)]
        out.append("</tr></thead><tbody>")
        for r in rows:
            out.append("<tr>")
            for j, c in enumerate(r):
                cls = "l" if j in left else ""
                if status_col is not None and j == status_col:
                    cls = ("ok" if str(c).startswith("ok") else "bad") + (" l" if cls else "")
                if warn_col is not None and j == warn_col and str(c):
                    cls = "warn"
                out.append(_cell(c, cls))
            out.append("</tr>")
        out.append("</tbody></table>")
        self.parts.append("".join(out))

    def settings(self, rows: Any, *, caption: str = "Settings") -> None:
        """A table of settings: rows of ``(name, value, unit)`` or ``(name, value, unit, note)``."""
        rows = [list(r) + [""] * (4 - len(r)) for r in rows]
        has_note = any(r[3] for r in rows)
        headers = ["setting", "value", "unit"] + (["meaning"] if has_note else [])
        self.table(headers, [r if has_note else r[:3] for r in rows], caption=caption,
                   left=(0, 2, 3))

    def warnings(self, items: Sequence[str], *, title: str = "Estimator warnings") -> None:
        """A list of warnings (nothing when ``items`` is empty)."""
        items = list(items)
        if not items:
            return
        lis = "".join(f"<li>{html.escape(str(w))}</li>" for w in items)
        self.parts.append(f'<p class="note">{html.escape(title)}:</p><ul class="warn">{lis}</ul>')

    def figure(self, png: bytes, caption: str, *, alt: str | None = None) -> None:
        """Embed PNG bytes with a caption (say what the figure shows and what to look for)."""
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(
            f'<figure><img alt="{html.escape(alt or caption)}" src="data:image/png;base64,'
            f'{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        )

    def __repr__(self) -> str:
        return f"Section(title={self.title!r}, parts={len(self.parts)})"


@dataclass
class Report:
    """An HTML report made of sections."""

    title: str
    intro: str = ""
    sections: list = field(default_factory=list)

    def section(self, title: str) -> Section:
        """Start and return a new section."""
        s = Section(title)
        self.sections.append(s)
        return s

    def to_html(self) -> str:
        """The whole report as one HTML document."""
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        if self.intro:
            body += [f"<p>{html.escape(p)}</p>" for p in self.intro.split("\n\n") if p.strip()]
        for s in self.sections:
            body.append(f"<h2>{html.escape(s.title)}</h2>")
            body.extend(s.parts)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body)
            + "</body></html>\n"
        )

    def __repr__(self) -> str:
        return f"Report(title={self.title!r}, sections={[s.title for s in self.sections]!r})"
