"""The errors a user can cause; the CLI turns each into `Error: ...` and a non-zero exit."""

from __future__ import annotations


class MonitorError(Exception):
    """Something the user can fix: bad input, an unknown patient, a bad setting."""

    exit_code = 1


class ConfigError(MonitorError):
    """The clinic configuration file is unreadable or holds a bad value."""


class UnknownPatient(MonitorError):
    """No patient with that MRN is enrolled."""


class DatabaseError(MonitorError):
    """The database cannot be reached or is not initialised."""


class ImportRejected(MonitorError):
    """An import found invalid rows; nothing was written."""

    exit_code = 2

    def __init__(self, problems: list["Problem"], *, limit: int = 50):
        self.problems = problems
        shown = problems[:limit]
        lines = [f"{len(problems)} invalid value(s); nothing was imported."]
        lines += [f"  {p}" for p in shown]
        if len(problems) > limit:
            lines.append(f"  ... and {len(problems) - limit} more")
        super().__init__("\n".join(lines))


class Problem:
    """One invalid value: where it is and what was expected."""

    __slots__ = ("file", "line", "column", "message", "unit")

    def __init__(self, file: str, line: int, column: str, message: str, *, unit: str = "line"):
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.unit = unit  # "line" of a text file, "row" of a spreadsheet

    def __str__(self) -> str:
        where = f"{self.file}, {self.unit} {self.line}" if self.line else self.file
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Problem({self!s})"
