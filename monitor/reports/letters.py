"""Recall letters: the clinic's Jinja2 template filled in per patient, one A4 page each, as a PDF.

Data in, bytes out: the service passes each patient's letter values; nothing here queries. The
template runs in Jinja2's sandbox, so a template file can fill in values but cannot run code.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from monitor.errors import MonitorError

A4_PORTRAIT = (8.27, 11.69)
FONT_PT = 11
HEADING_PT = 14
LINE_SPACING = 1.45
WRAP_CHARS = 82  # about 160 mm of 11 pt text
MARGIN_IN = 0.9  # 23 mm


@dataclass(frozen=True)
class Letter:
    """What one letter says: every value a template can use (see README, Recall letters)."""

    mrn: str
    name: str
    address_lines: tuple[str, ...]
    status: str  # due or overdue
    due_on: date
    reason: str  # plain words


def long_date(day: date) -> str:
    """`20 November 2026`: a date nobody reads the wrong way round."""
    return f"{day.day} {day.strftime('%B')} {day.year}"


def address_lines(address: str | None) -> tuple[str, ...]:
    """An address cell (`1 High St;Leeds;LS1 1AA`) as its lines."""
    return tuple(part.strip() for part in str(address or "").split(";") if part.strip())


def load_template(path: str | None):
    """The clinic's template (a file) or the built-in one, compiled in a sandbox."""
    from jinja2 import StrictUndefined, TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                               lstrip_blocks=True, keep_trailing_newline=False)
    if path:
        try:
            source = Path(path).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise MonitorError(f"letters template not found: {path} (see [letters] template in the config)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MonitorError(f"letters template {path}: cannot read it as UTF-8 text: {exc}") from None
        name = str(path)
    else:
        source = resources.files("monitor.reports").joinpath("templates/recall_letter.txt").read_text(encoding="utf-8")
        name = "built-in recall_letter.txt"
    try:
        return env.from_string(source), name
    except TemplateSyntaxError as exc:
        raise MonitorError(f"letters template {name}, line {exc.lineno}: {exc.message}") from None


def render_text(template, name: str, letter: Letter, *, as_of: date, clinic: dict) -> str:
    """One letter as text; a template error names the template and what went wrong, not the patient."""
    from jinja2 import TemplateError
    from jinja2.sandbox import SecurityError

    values = {"patient": {"mrn": letter.mrn, "name": letter.name, "address_lines": list(letter.address_lines)},
              "status": letter.status, "due_date": long_date(letter.due_on), "due_on": letter.due_on.isoformat(),
              "due_passed": letter.due_on < as_of,
              "reason": letter.reason, "letter_date": long_date(as_of), "clinic": clinic}
    try:
        return template.render(values)
    except SecurityError as exc:
        raise MonitorError(f"letters template {name}: not allowed in a template: {exc}") from None
    except TemplateError as exc:
        raise MonitorError(f"letters template {name}: {exc.message or exc}") from None


def page_lines(text: str) -> list[tuple[str, bool]]:
    """The letter's lines, long ones wrapped, each with whether it is a heading (`# `)."""
    out: list[tuple[str, bool]] = []
    for line in text.split("\n"):
        if line.startswith("# "):
            out.append((line[2:], True))
            continue
        out += [(part, False) for part in (textwrap.wrap(line, WRAP_CHARS) or [""])]
    return out


MAX_LINES = int((A4_PORTRAIT[1] - 2 * MARGIN_IN) * 72 / (FONT_PT * LINE_SPACING))


def letter_figures(letters: list[Letter], *, as_of: date, template_path: str | None, clinic: dict):
    """One A4 figure per letter (matplotlib's object API: no global state)."""
    from matplotlib.figure import Figure

    template, name = load_template(template_path)
    for letter in letters:
        lines = page_lines(render_text(template, name, letter, as_of=as_of, clinic=clinic).strip("\n"))
        if len(lines) > MAX_LINES:
            raise MonitorError(f"letters template {name}: a letter is {len(lines)} lines long; one page "
                               f"holds {MAX_LINES}: shorten the template")
        fig = Figure(figsize=A4_PORTRAIT, dpi=100)
        step = FONT_PT * LINE_SPACING / 72 / A4_PORTRAIT[1]  # one line, as a fraction of the page
        y = 1 - MARGIN_IN / A4_PORTRAIT[1]
        x = MARGIN_IN / A4_PORTRAIT[0]
        for text, heading in lines:
            fig.text(x, y, text, fontsize=HEADING_PT if heading else FONT_PT,
                     weight="bold" if heading else "normal", va="top", family="DejaVu Sans")
            y -= step
        yield fig


def letters_pdf_bytes(letters: list[Letter], *, as_of: date, template_path: str | None, clinic: dict) -> bytes:
    """The letters as one PDF, one A4 page each (repeatable bytes: no creation date)."""
    from matplotlib.backends.backend_pdf import PdfPages

    out = io.BytesIO()
    with PdfPages(out, metadata={"CreationDate": None, "Title": "Recall letters"}) as pdf:
        for fig in letter_figures(letters, as_of=as_of, template_path=template_path, clinic=clinic):
            pdf.savefig(fig)
    return out.getvalue()
