"""Where a dataset comes from, as data (`DatasetSpec.source`): public archives (with checksums where the
publisher gives one) and, for what cannot be fetched automatically, where to put it by hand.

Each dataset's source is defined beside its loader (nights.py, bapps.py, ...) and carried by its spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Download:
    """One public file of a dataset: its URL, sha256 (when published) and where it is saved or unpacked."""

    url: str
    destination: str  # folder under the data root it is unpacked (or saved) into
    sha256: str | None = None  # None: the publisher gives no checksum; the computed one is recorded
    flatten: bool = False  # keep only file names (archives that nest images in sub-folders)
    filename: str | None = None  # save a single file under this name instead of unpacking


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from: its public downloads, the manual steps for the rest, licence and citation.

    The default, no downloads and no manual step, is a dataset with nothing to fetch (embedded, or the user's own folder)."""

    downloads: tuple[Download, ...] = ()
    manual: str = ""  # what the user must fetch by hand and where to put it; `{root}` is the data root
    license: str = ""
    citation: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fetches_anything(self) -> bool:
        """Whether `bench data download` has a file to fetch or a manual step to tell."""
        return bool(self.downloads or self.manual)
