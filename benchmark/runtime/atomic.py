"""Write files via a temporary file and rename, so readers never see a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` as UTF-8 to `path` atomically; returns `path`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to a synced temporary file beside `path`, then rename it over `path`; returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # its error names the folder that cannot be made
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise naming_path(error, path) from error
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise naming_path(error, path) from error
        raise
    return path


def naming_path(error: OSError, path: Path) -> OSError:
    """`error` as it concerns `path` (the file the caller asked for), not a temporary name or no name at all
    (a full disk fails `write()`, whose error names no file), so the one-line message names the right file."""
    if error.errno is None:
        return error
    return type(error)(error.errno, error.strerror, str(path))
