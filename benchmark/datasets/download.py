"""Fetch a dataset's public files, check their sha256, and unpack them safely into the data root."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..atomic import atomic_write_text
from .images import DatasetError
from .sources import SOURCES, DatasetSource, Download

CHUNK = 1 << 20
DOWNLOAD_RECORD = "DOWNLOADS.json"


def get_source(name: str) -> DatasetSource:
    if name not in SOURCES:
        raise DatasetError(f"no download source for '{name}'; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, target: Path, progress: Callable[[str], None] = print) -> Path:
    """Stream `url` to `target` via a temporary file, so a broken download never looks complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, handle, CHUNK)
        os.replace(temporary, target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise DatasetError(
                f"cannot download {url}: {error} (check the connection, or fetch it by hand into {target.parent})"
            ) from error
        raise
    progress(f"fetched {url} -> {target}")
    return target


def verify_checksum(path: Path, expected: str | None, url: str) -> str:
    actual = sha256_of(path)
    if expected is not None and actual != expected.lower():
        raise DatasetError(f"checksum mismatch for {path} (from {url}): sha256 {actual}, expected {expected}; delete it and download again")
    return actual


def _member_target(name: str, download: Download) -> PurePosixPath:
    """Where an archive member goes relative to the destination (refusing paths that escape it)."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise DatasetError(f"archive member '{name}' would escape the data root; refusing to unpack")
    return PurePosixPath(path.name) if download.flatten else path


def unpack(archive: Path, destination: Path, download: Download) -> int:
    """Unpack a .zip or .tar(.gz) archive into `destination`; returns the number of files written."""
    destination.mkdir(parents=True, exist_ok=True)
    written = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                target = None if info.is_dir() else _member_target(info.filename, download)
                if target is not None:
                    out = destination / target
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with bundle.open(info) as source, out.open("wb") as sink:
                        shutil.copyfileobj(source, sink, CHUNK)
                    written += 1
        return written
    try:
        bundle = tarfile.open(archive)
    except tarfile.TarError as error:
        raise DatasetError(f"{archive} is neither a zip nor a tar archive: {error}") from error
    with bundle:
        for member in bundle:
            target = _member_target(member.name, download) if member.isfile() else None
            if target is not None:
                out = destination / target
                out.parent.mkdir(parents=True, exist_ok=True)
                source = bundle.extractfile(member)
                with source, out.open("wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
                written += 1
    return written


def download_dataset(name: str, data_root: Path, progress: Callable[[str], None] = print) -> list[str]:
    """Fetch, verify and unpack what `name` publishes; returns the instructions for what remains."""
    source = get_source(name)
    data_root.mkdir(parents=True, exist_ok=True)
    record_path = data_root / DOWNLOAD_RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    for download in source.downloads:
        destination = data_root / download.destination
        if download.filename is not None:
            target = fetch(download.url, destination / download.filename, progress)
            digest = verify_checksum(target, download.sha256, download.url)
        else:
            with tempfile.TemporaryDirectory(dir=data_root) as scratch:
                archive = fetch(download.url, Path(scratch) / PurePosixPath(download.url).name, progress)
                digest = verify_checksum(archive, download.sha256, download.url)
                count = unpack(archive, destination, download)
                progress(f"unpacked {count} files into {destination}")
        pinned = "verified" if download.sha256 else "not published by the source; recorded"
        progress(f"sha256 {digest} ({pinned})")
        record[download.url] = {"sha256": digest, "pinned": download.sha256 is not None}
    if source.downloads:
        atomic_write_text(record_path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return [source.manual.format(root=data_root)] if source.manual else []
