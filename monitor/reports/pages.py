"""Text pages for PDF reports: monospaced lines, wrapped and paginated, on A4 portrait."""

from __future__ import annotations

import textwrap

A4_PORTRAIT = (8.27, 11.69)
LINES_PER_PAGE = 78
WIDTH_CHARS = 112


def wrap(text: str, indent: str = "", width: int = WIDTH_CHARS) -> list[str]:
    return textwrap.wrap(text, width=width, subsequent_indent=indent + "  ", initial_indent=indent) or [""]


def text_figures(title: str, lines: list[str], *, footer: str):
    """Figures holding `lines` under `title`, as many pages as needed."""
    from matplotlib.figure import Figure

    pages = [lines[i:i + LINES_PER_PAGE] for i in range(0, max(len(lines), 1), LINES_PER_PAGE)]
    figures = []
    for n, chunk in enumerate(pages, start=1):
        fig = Figure(figsize=A4_PORTRAIT, dpi=100)
        fig.text(0.06, 0.965, title, fontsize=12, weight="bold")
        fig.text(0.06, 0.945, "\n".join(chunk), fontsize=7, family="monospace", va="top", linespacing=1.35)
        fig.text(0.06, 0.02, footer, fontsize=6.5, color="dimgrey")
        fig.text(0.94, 0.02, f"page {n}/{len(pages)}", fontsize=6.5, color="dimgrey", ha="right")
        figures.append(fig)
    return figures
