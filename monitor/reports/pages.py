"""PDF pages after the charts: headings, tables and paragraphs flowed onto A4 landscape pages, and
one footer (who, as of when, confidential, "page k of N") stamped on every page of a document."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

A4_LANDSCAPE = (11.69, 8.27)
LEFT, RIGHT, TOP, BOTTOM = 0.05, 0.96, 0.93, 0.06
TEXT_PT = 7.5
SHADE = "#e6e6e6"  # alternate table rows: a light grey that still shows when printed in greyscale
LINE = TEXT_PT * 1.45 / (A4_LANDSCAPE[1] * 72)  # one text line as a fraction of the page height
WIDTH_CHARS = 190  # a paragraph line at TEXT_PT across the page


@dataclass(frozen=True)
class Block:
    """One line of a page: a heading, a table row (cells at column positions), or a text line."""

    kind: str  # "heading", "row", "text", "gap", "space" (a smaller gap)
    cells: tuple[str, ...] = ()
    columns: tuple[float, ...] = (0.0,)  # left edge of each cell, as a fraction of the text width
    bold: bool = False
    bolds: tuple[bool, ...] = ()  # per cell, when cells differ in weight (else `bold` for all)
    keep_with_next: bool = False  # never end a page after this block (a flag's lines stay together)
    aligns: tuple[str, ...] = ()  # per cell, "right": the column position is the cell's right edge
    shade: bool = False  # a light band behind the line (alternate table rows, readable in greyscale)
    is_header: bool = False  # a table's header line: drawn again at the top of each page the table runs onto
    ruled: bool = False  # a thin line under the block (under a table's header)

    @property
    def lines(self) -> float:
        return {"heading": 2.0, "gap": 0.6, "space": 0.35}.get(self.kind, 1.0)

    @property
    def height(self) -> float:
        return self.lines * LINE


def heading(text: str) -> Block:
    return Block("heading", (text,), bold=True)


def row(cells, columns, *, bold: bool = False) -> Block:
    return Block("row", tuple(str(c) for c in cells), tuple(columns), bold)


def paragraph(text: str, indent: int = 0, *, bold: bool = False) -> list[Block]:
    """`text` wrapped across the page, continuation lines indented a little more."""
    lines = textwrap.wrap(text, width=WIDTH_CHARS - indent) or [""]
    return [Block("text", (line,), (indent / WIDTH_CHARS + (0.012 if n else 0.0),), bold and n == 0)
            for n, line in enumerate(lines)]


def flow_figures(title: str, blocks: list[Block], *, size: float = TEXT_PT, leading: float = 1.45):
    """Figures holding `blocks` under `title`, as many pages as needed; a heading never ends a page,
    nor does a block kept with the next. Text `size` in points, lines `leading` times that apart."""
    line = size * leading / (A4_LANDSCAPE[1] * 72)
    pages: list[list[Block]] = [[]]
    room = TOP - 0.03 - BOTTOM
    used = 0.0
    header: list[Block] = []  # the header of the table being laid out, repeated on its next pages
    for n, block in enumerate(blocks):
        if block.kind == "heading" or (not block.is_header and block.kind != "row"):
            header = []
        elif block.is_header:
            header = header + [block] if n and blocks[n - 1].is_header else [block]
        need = (_kept_lines(blocks, n, room / line) if n == 0 or not blocks[n - 1].keep_with_next
                else block.lines) * line
        if used + need > room and pages[-1]:
            pages.append([])
            used = 0.0
            if header and not block.is_header:
                pages[-1] += header
                used += sum(b.lines for b in header) * line
        if block.kind in ("gap", "space") and not pages[-1]:
            continue
        pages[-1].append(block)
        used += block.lines * line
    return [_draw_page(title, chunk, size=size, line=line) for chunk in pages]


def _draw_page(title: str, chunk: list[Block], *, size: float, line: float):
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=A4_LANDSCAPE, dpi=100)
    fig.text(LEFT, 0.955, title, fontsize=12, weight="bold")
    y = TOP - 0.02
    for block in chunk:
        if block.kind == "heading":
            y -= line * 0.8
            fig.text(LEFT, y, block.cells[0], fontsize=10, weight="bold", va="top")
            y -= line * 1.2
            continue
        if block.kind in ("gap", "space"):
            y -= block.lines * line
            continue
        if block.shade:  # the band covers the line from its top to the next line's top
            fig.add_artist(Rectangle((LEFT - 0.003, y - line + line * 0.12), RIGHT - LEFT + 0.006, line,
                                     facecolor=SHADE, edgecolor="none", zorder=-1))
        bolds = block.bolds or (block.bold,) * len(block.cells)
        aligns = block.aligns or ("left",) * len(block.cells)
        for cell, at, bold, align in zip(block.cells, block.columns, bolds, aligns):
            if not cell:  # an empty cell draws nothing (a long table has many)
                continue
            fig.text(LEFT + at * (RIGHT - LEFT), y, cell, fontsize=size, va="top", ha=align,
                     weight="bold" if bold else "normal")
        y -= line
        if block.ruled:
            rule_y = y + line * 0.12
            fig.add_artist(Line2D([LEFT - 0.003, RIGHT + 0.003], [rule_y, rule_y], color="black", linewidth=0.6))
    return fig


def _kept_lines(blocks: list[Block], n: int, page_lines: float) -> float:
    """The lines of block `n` with the blocks kept with it (a heading keeps its first line), at
    most a page: a longer group may break."""
    lines, k = 0.0, n
    while k < len(blocks):
        lines += blocks[k].lines
        if not (blocks[k].keep_with_next or blocks[k].kind == "heading") or lines > page_lines:
            break
        k += 1
    return lines


TEXT_WIDTH_PT = (RIGHT - LEFT) * A4_LANDSCAPE[0] * 72


def text_width_pt(text: str, *, size: float = TEXT_PT, bold: bool = False, spare: float = 1.03) -> float:
    """How wide `text` is drawn in the report's proportional font, in points: the sum of the
    glyphs' unhinted advances (as the PDF draws them), with 3 % to spare for a raster rendering."""
    advances = _ADVANCES.setdefault(bold, {})
    missing = set(text) - advances.keys()
    if missing:
        _measure(missing, bold, advances)
    return sum(advances[c] for c in text) * size * spare


_ADVANCES: dict[bool, dict[str, float]] = {}


def _measure(chars, bold: bool, advances: dict[str, float]) -> None:
    """Advance of each character at 1 pt, from the font matplotlib draws with."""
    from matplotlib.font_manager import FontProperties, findfont, get_font
    from matplotlib.ft2font import LoadFlags

    font = get_font(findfont(FontProperties(weight="bold" if bold else "normal")))
    font.set_size(100, 72)
    for c in chars:
        glyph = font.load_char(ord(c), flags=LoadFlags.NO_HINTING)
        advances[c] = glyph.linearHoriAdvance / 65536 / 100


def wrap_pt(text: str, width_pt: float, *, first_pt: float | None = None, size: float = TEXT_PT,
            bold: bool = False) -> list[str]:
    """`text` in lines no wider than `width_pt` points (the first line `first_pt`, when it starts
    after something), measured in the drawn font; a word longer than a line is cut."""
    lines: list[str] = []
    limit = width_pt if first_pt is None else first_pt
    current = ""
    for w in text.split():
        candidate = f"{current} {w}" if current else w
        if text_width_pt(candidate, size=size, bold=bold) <= limit:
            current = candidate
            continue
        if current or lines or first_pt is not None:
            lines.append(current)
            limit = width_pt
        current = w
        while text_width_pt(current, size=size, bold=bold) > limit:  # a word wider than a line
            cut = len(current) - 1
            while cut > 1 and text_width_pt(current[:cut], size=size, bold=bold) > limit:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    return lines


def stamp_pages(figures, footer: str) -> None:
    """The footer and "page k of N" on every page, counted over the whole document."""
    total = len(figures)
    for k, fig in enumerate(figures, start=1):
        fig.text(LEFT, 0.02, footer, fontsize=7, color="dimgrey")
        fig.text(RIGHT, 0.02, f"page {k} of {total}", fontsize=7, color="dimgrey", ha="right")
