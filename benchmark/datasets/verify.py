"""Check a local copy of a dataset: `bench data verify NAME` runs the check its `DatasetSpec.verify` names.

Each dataset's check lives beside its loader (nights.py, bapps.py, ...): it reads the real on-disk format
through the loader's own readers, then counts what the loader does not open up front (every image a csv
or list names, per-folder counts). This module holds what they share: the report and the image check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image


@dataclass
class VerifyReport:
    """What `bench data verify` found for one dataset: facts that hold and problems to fix.

    `location` is None for a dataset that needs no data root (embedded, or the user's own folder)."""

    name: str
    location: Path | None
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def _undecodable(path: Path) -> str | None:
    """Why the image at `path` cannot be decoded to its last pixel (None when it can): a header alone says nothing of a truncated file."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:  # UnidentifiedImageError is an OSError
        return f"{type(error).__name__}: {error}"
    return None


def check_images(paths: Iterable[Path | str], report: VerifyReport, what: str) -> None:
    """Every image present and decoded in full; the first missing and the first damaged one named, one line each."""
    unique = list(dict.fromkeys(Path(p) for p in paths))
    present = [p for p in unique if p.is_file()]
    if len(present) < len(unique):
        missing = [p for p in unique if not p.is_file()]
        report.problems.append(f"{len(missing)} {what} missing, e.g. {missing[0]}")
    damaged = [(p, why) for p in present if (why := _undecodable(p)) is not None]
    if damaged:
        path, why = damaged[0]
        report.problems.append(f"{len(damaged)} {what} cannot be decoded, e.g. {path} ({why}); download the dataset again")


def verify_dataset(name: str, data_root: Path | None) -> VerifyReport:
    """A report of what is present and what is missing or malformed in `data_root`'s copy of `name` (any registered dataset)."""
    from .registry import get_dataset_spec

    spec = get_dataset_spec(name)
    location = spec.location(Path(data_root)) if data_root is not None else None
    report = VerifyReport(name, location)
    if spec.relative_path is not None:
        if location is None:
            report.problems.append(f"'{name}' lives under a data root: pass --data-root DIR or set $PERCEPTBENCH_DATA")
            return report
        if not location.exists():
            report.problems.append(f"{location} does not exist (`bench data download {name}` fetches it or says where to put it)")
            return report
    spec.verify(location, report)
    return report
