"""A small, self-contained HTML report: sections with tables and embedded PNG figures.

No template engine and no external assets: figures are embedded as base64 ``data:`` URIs so the
report is one file that can be mailed or archived. Text is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

__all__ = ["Report", "Section", "figure_png"]

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
td.ok { color: #1a7f37; } td.bad { color: #b42318; font-weight: bold; }
figure { display: inline-block; margin: 0.5em; } figcaption { font-size: 0.85em; color: #555; }
img { max-width: 100%; } code, .tex { font-family: ui-monospace, monospace; font-size: 0.85em; }
.tex { background: #f7f7f7; padding: 0.3em 0.5em; display: block; overflow-x: auto; }
.note { color: #555; font-size: 0.9em; }
"""


def figure_png(fig, *, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


@dataclass
class Section:
    """One report section: a title, paragraphs, tables, LaTeX blocks and figures, in order."""

    title: str
    parts: list = field(default_factory=list)

    def text(self, s: str, *, note: bool = False):
        """A paragraph (escaped)."""
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{html.escape(s)}</p>")

    def latex(self, name: str, tex: str):
        """A LaTeX formula shown as source (readable without a renderer)."""
        self.parts.append(
            f'<div><b>{html.escape(name)}</b><code class="tex">{html.escape(tex)}</code></div>'
        )

    def table(self, headers, rows, *, status_col: int | None = None):
        """A table; with ``status_col``, cells reading 'ok' / 'CHECK' are coloured."""
        out = ["<table><tr>"]
        out += [f'<th class="{"l" if j == 0 else ""}">{html.escape(str(h))}</th>'
                for j, h in enumerate(headers)]
        out.append("</tr>")
        for r in rows:
            out.append("<tr>")
            for j, c in enumerate(r):
                cls = "l" if j == 0 else ""
                if status_col is not None and j == status_col:
                    cls = "ok" if str(c).startswith("ok") else "bad"
                out.append(f'<td class="{cls}">{html.escape(str(c))}</td>')
            out.append("</tr>")
        out.append("</table>")
        self.parts.append("".join(out))

    def figure(self, png: bytes, caption: str, *, alt: str | None = None):
        """Embed PNG bytes with a caption."""
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(
            f'<figure><img alt="{html.escape(alt or caption)}" src="data:image/png;base64,'
            f'{data}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        )


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
            body.append(f"<p>{html.escape(self.intro)}</p>")
        for s in self.sections:
            body.append(f"<h2>{html.escape(s.title)}</h2>")
            body.extend(s.parts)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body)
            + "</body></html>\n"
        )
