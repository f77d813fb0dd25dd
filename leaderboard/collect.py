"""Read a results folder (any depth) into results; a file that is not a valid result is skipped with one warning line.

The warning names the file and the first bad field (benchmark/schema.py), and is printed as one line
(`bench leaderboard` and `bench results` go on and exit 0).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from benchmark.results import EvaluationResult, ResultFormatError, read_result


class SkippedResultWarning(UserWarning):
    """A file under a results folder was not read: it is not a valid result."""


_format_warning = warnings.formatwarning


def _one_line(message, category, filename, lineno, line=None) -> str:
    """Skipped files are reported as `warning: <file>: <field>: <problem>`, one line each, without a source line."""
    if issubclass(category, SkippedResultWarning):
        return f"warning: {str(message).replace(chr(10), ' ')}\n"
    return _format_warning(message, category, filename, lineno, line)


warnings.formatwarning = _one_line


def collect_results(results_dir: str | Path) -> list[tuple[Path, EvaluationResult]]:
    """Every result file under `results_dir` (schema 1 or 2), with its path; anything else is skipped with a warning."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results folder {results_dir} does not exist; run `bench evaluate` first")
    collected = []
    for path in sorted(results_dir.rglob("*.json")):
        if path.parent.name.endswith(".adversarial"):  # a gallery's examples.json (benchmark/gallery.py), read by leaderboard/gallery.py
            continue
        try:
            collected.append((path, read_result(path)))
        except ResultFormatError as error:
            warnings.warn(f"skipping {error}", SkippedResultWarning, stacklevel=2)
    return collected
