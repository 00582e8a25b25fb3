"""The report as a list of blocks (heading, paragraph, bullets, table, figure), and its two
renderings: a self-contained HTML page (``to_html``) and Markdown (``to_markdown``), so both
versions say the same thing."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class FigureBlock:
    name: str
    title: str
    png: bytes
    caption: str
    notes: list[str] = field(default_factory=list)


Block = Heading | Paragraph | Bullets | Table | FigureBlock


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; } .note { color: #8a4b00; }
nav a { margin-right: 1em; }
"""


def to_html(blocks: Sequence[Block]) -> str:
    """A complete, self-contained HTML page (inline CSS, figures as base64 PNG)."""
    title = next((b.text for b in blocks if isinstance(b, Heading)), "ipcbench report")
    sections = [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]
    nav = "".join(f'<a href="#{_anchor(s)}">{html.escape(s)}</a>' for s in sections)
    body = "\n".join(_html_block(b) for b in blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n<nav>{nav}</nav>\n{body}\n</body></html>\n"
    )


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())


def _html_block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Heading):
        return f'<h{block.level} id="{_anchor(block.text)}">{esc(block.text)}</h{block.level}>'
    if isinstance(block, Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in block.headers) if any(block.headers) else ""
        rows = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in block.rows
        )
        return f"<table>{f'<tr>{head}</tr>' if head else ''}{rows}</table>"
    data = base64.b64encode(block.png).decode("ascii")
    notes = "".join(f'<br><span class="note">{esc(n)}</span>' for n in block.notes)
    return (
        f'<figure id="fig-{block.name}"><img alt="{esc(block.title)}" '
        f'src="data:image/png;base64,{data}"><figcaption><b>{esc(block.title)}.</b> '
        f"{esc(block.caption)}{notes}</figcaption></figure>"
    )


def to_markdown(blocks: Sequence[Block]) -> str:
    """The same report as Markdown; figures link the PNG files written beside it."""
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + block.text
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {i}" for i in block.items)
    if isinstance(block, Table):
        headers = [h or " " for h in block.headers]
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in block.rows]
        return "\n".join(lines)
    notes = "".join(f"\n\n> {n}" for n in block.notes)
    return f"![{block.title}]({block.name}.png)\n\n*{block.title}.* {block.caption}{notes}"
