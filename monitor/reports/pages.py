"""PDF pages after the charts: headings, tables and paragraphs flowed onto A4 landscape pages, and
one footer (who, as of when, confidential, "page k of N") stamped on every page of a document."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

A4_LANDSCAPE = (11.69, 8.27)
LEFT, RIGHT, TOP, BOTTOM = 0.05, 0.96, 0.93, 0.06
TEXT_PT = 7.5
LINE = TEXT_PT * 1.45 / (A4_LANDSCAPE[1] * 72)  # one text line as a fraction of the page height
WIDTH_CHARS = 190  # a paragraph line at TEXT_PT across the page


@dataclass(frozen=True)
class Block:
    """One line of a page: a heading, a table row (cells at column positions), or a text line."""

    kind: str  # "heading", "row", "text", "gap"
    cells: tuple[str, ...] = ()
    columns: tuple[float, ...] = (0.0,)  # left edge of each cell, as a fraction of the text width
    bold: bool = False

    @property
    def height(self) -> float:
        return {"heading": 2.0, "gap": 0.6}.get(self.kind, 1.0) * LINE


def heading(text: str) -> Block:
    return Block("heading", (text,), bold=True)


def row(cells, columns, *, bold: bool = False) -> Block:
    return Block("row", tuple(str(c) for c in cells), tuple(columns), bold)


def paragraph(text: str, indent: int = 0, *, bold: bool = False) -> list[Block]:
    """`text` wrapped across the page, continuation lines indented a little more."""
    lines = textwrap.wrap(text, width=WIDTH_CHARS - indent) or [""]
    return [Block("text", (line,), (indent / WIDTH_CHARS + (0.012 if n else 0.0),), bold and n == 0)
            for n, line in enumerate(lines)]


def wrap(text: str, indent: str = "", width: int = 112) -> list[str]:
    return textwrap.wrap(text, width=width, subsequent_indent=indent + "  ", initial_indent=indent) or [""]


def flow_figures(title: str, blocks: list[Block]):
    """Figures holding `blocks` under `title`, as many pages as needed; a heading never ends a page."""
    from matplotlib.figure import Figure

    pages: list[list[Block]] = [[]]
    room = TOP - 0.03 - BOTTOM
    used = 0.0
    for n, block in enumerate(blocks):
        need = block.height + (blocks[n + 1].height if block.kind == "heading" and n + 1 < len(blocks) else 0)
        if used + need > room and pages[-1]:
            pages.append([])
            used = 0.0
        if block.kind == "gap" and not pages[-1]:
            continue
        pages[-1].append(block)
        used += block.height
    figures = []
    for chunk in pages:
        fig = Figure(figsize=A4_LANDSCAPE, dpi=100)
        fig.text(LEFT, 0.955, title, fontsize=12, weight="bold")
        y = TOP - 0.02
        for block in chunk:
            if block.kind == "heading":
                y -= LINE * 0.8
                fig.text(LEFT, y, block.cells[0], fontsize=10, weight="bold", va="top")
                y -= LINE * 1.2
                continue
            if block.kind == "gap":
                y -= block.height
                continue
            for cell, at in zip(block.cells, block.columns):
                fig.text(LEFT + at * (RIGHT - LEFT), y, cell, fontsize=TEXT_PT, va="top",
                         weight="bold" if block.bold else "normal")
            y -= LINE
        figures.append(fig)
    return figures


def stamp_pages(figures, footer: str) -> None:
    """The footer and "page k of N" on every page, counted over the whole document."""
    total = len(figures)
    for k, fig in enumerate(figures, start=1):
        fig.text(LEFT, 0.02, footer, fontsize=7, color="dimgrey")
        fig.text(RIGHT, 0.02, f"page {k} of {total}", fontsize=7, color="dimgrey", ha="right")


def text_figures(title: str, lines: list[str], *, footer: str):
    """Monospaced lines flowed onto pages (the clinic report's lists), stamped with the footer."""
    blocks = [Block("text", (line,)) for line in lines]
    figures = flow_figures(title, blocks)
    for fig in figures:
        for t in fig.texts[1:]:
            t.set_family("monospace")
    return figures
