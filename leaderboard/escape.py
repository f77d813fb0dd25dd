"""Text cells that cannot be injected: CSV cells no spreadsheet runs as a formula, Markdown cells that stay one cell.

CSV follows OWASP's advice on CSV injection: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return is prefixed with `'` (a negative number stays a number). Markdown cells escape HTML, `|` and line breaks,
so text from result files can neither add a column nor a row. HTML pages rely on jinja2's autoescaping.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from html import escape
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def csv_cell(value: Any) -> Any:
    """`value` safe for a spreadsheet: text that could start a formula gets a leading `'`; numbers pass unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS) or _NUMBER.match(value):
        return value
    return "'" + value


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A CSV document with every cell escaped by `csv_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def markdown_cell(text: object) -> str:
    """Text from result files as one Markdown table cell: no HTML, no stray pipes, no line breaks."""
    escaped = escape(str(text), quote=False).replace("|", "\\|")
    return re.sub(r"[\r\n\u2028\u2029\x0b\x0c\x85]+", " ", escaped)
