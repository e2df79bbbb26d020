"""A small document model rendered both to Markdown and to self-contained HTML.

The report is built once as a list of blocks (headings, paragraphs, tables,
images, code, lists) and rendered twice, so the two files always say the same
thing and no Markdown parser is needed. Inline markup understood in text and
table cells: **bold** and `code`. The HTML embeds images as base64 data URIs,
so the file can be mailed or attached on its own.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    df: pd.DataFrame
    caption: str = ""


@dataclass
class Image:
    path: Path
    caption: str = ""


@dataclass
class Code:
    text: str
    lang: str = ""


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    # ---- building
    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Heading(level, text))

    def para(self, text: str) -> None:
        self.blocks.append(Para(text))

    def bullets(self, items: list[str]) -> None:
        if items:
            self.blocks.append(Bullets(list(items)))

    def table(self, df: pd.DataFrame, caption: str = "") -> None:
        self.blocks.append(Table(df, caption))

    def image(self, path: str | Path, caption: str = "") -> None:
        self.blocks.append(Image(Path(path), caption))

    def code(self, text: str, lang: str = "") -> None:
        self.blocks.append(Code(text, lang))

    def headings(self) -> list[str]:
        return [b.text for b in self.blocks if isinstance(b, Heading)]

    # ---- rendering
    def to_markdown(self, base_dir: str | Path) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if isinstance(b, Heading):
                out += ["#" * max(2, b.level) + " " + b.text, ""]
            elif isinstance(b, Para):
                out += [b.text, ""]
            elif isinstance(b, Bullets):
                out += [f"- {i}" for i in b.items] + [""]
            elif isinstance(b, Table):
                if b.caption:
                    out += [f"*{b.caption}*", ""]
                out += [md_table(b.df), ""]
            elif isinstance(b, Image):
                rel = Path(os.path.relpath(b.path, base_dir)).as_posix()
                out += [f"![{b.caption}]({rel})", ""]
                if b.caption:
                    out += [f"*{b.caption}*", ""]
            elif isinstance(b, Code):
                fence = "```"
                out += [fence + b.lang, b.text.rstrip("\n"), fence, ""]
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        body = [f"<h1>{_inline(self.title)}</h1>"]
        for b in self.blocks:
            if isinstance(b, Heading):
                lv = max(2, min(6, b.level))
                anchor = re.sub(r"[^a-z0-9]+", "-", b.text.lower()).strip("-")
                body.append(f'<h{lv} id="{anchor}">{_inline(b.text)}</h{lv}>')
            elif isinstance(b, Para):
                body.append(f"<p>{_inline(b.text)}</p>")
            elif isinstance(b, Bullets):
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
            elif isinstance(b, Table):
                body.append(_html_table(b.df, b.caption))
            elif isinstance(b, Image):
                body.append(_html_image(b.path, b.caption))
            elif isinstance(b, Code):
                body.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
        return _PAGE.format(title=html.escape(self.title), body="\n".join(body))


def _cell(v) -> str:
    if isinstance(v, float):
        if v != v:  # NaN
            return "–"
        return f"{v:.3f}"
    return str(v)


def md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    rows = [[_cell(v).replace("|", "\\|").replace("\n", " ") for v in r] for r in df.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in cols) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _inline(text: str) -> str:
    t = html.escape(str(text), quote=False)
    t = _CODE.sub(r"<code>\1</code>", t)
    return _BOLD.sub(r"<strong>\1</strong>", t)


def _html_table(df: pd.DataFrame, caption: str) -> str:
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    head = "".join(f"<th>{_inline(c)}</th>" for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        cells = "".join(f'<td class="{"num" if n else ""}">{_inline(_cell(v))}</td>' for v, n in zip(r, numeric))
        rows.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _html_image(path: Path, caption: str) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = f"<figcaption>{_inline(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:{mime};base64,{data}" alt="{html.escape(caption)}">{cap}</figure>'


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }}
table {{ border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.2rem 0.5rem; }}
th {{ background: #f3f3f3; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
caption {{ caption-side: top; text-align: left; font-style: italic; padding-bottom: 0.3rem; }}
img {{ max-width: 100%; }}
figure {{ margin: 1rem 0; }}
figcaption {{ font-style: italic; font-size: 0.9rem; }}
pre {{ background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }}
h2 {{ border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
