"""Typed cells of a dataset's own tables (NIGHTS' data.csv, THINGS' triplets), refused in one line naming file, line and column.

`int(float(text))` took "inf" to an OverflowError traceback, "nan" to a ValueError and "6.5" or "-3"
to a number silently; every cell that is a count, an index or a label is read here instead.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from .images import DatasetError


def _refuse(where: str, column: str, problem: str, text: object, fix: str) -> DatasetError:
    return DatasetError(f"{where}: {column} must be {problem}, got {str(text)[:40]!r}; {fix}")


def whole_number(text: str | None, where: str, column: str, fix: str, minimum: int = 0) -> int:
    """A cell holding a finite whole number >= `minimum` ("6", or "6.0" as pandas writes it); anything else is refused.

    `where` is "<file> line N", `fix` what to do about a bad cell (correct the row, fetch the file again).
    """
    cell = (text or "").strip()
    try:
        number = int(cell)
    except ValueError:
        try:
            value = float(cell)
        except ValueError:
            raise _refuse(where, column, f"a whole number >= {minimum}", text, fix) from None
        if not math.isfinite(value) or not value.is_integer():
            raise _refuse(where, column, f"a whole number >= {minimum}", text, fix) from None
        number = int(value)
    if number < minimum:
        raise _refuse(where, column, f"a whole number >= {minimum}", text, fix)
    return number


def label(text: str | None, allowed: Collection[str], where: str, column: str, fix: str) -> str:
    """A cell holding one of `allowed` (compared case-insensitively, returned lower-case)."""
    cell = (text or "").strip().lower()
    if cell not in {value.lower() for value in allowed}:
        raise _refuse(where, column, f"one of {', '.join(allowed)}", text, fix)
    return cell
