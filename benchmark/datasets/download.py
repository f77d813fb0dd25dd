"""`bench data download NAME`: fetch a dataset's public files, check their sha256, unpack them into the data root.

The streaming, hashing and safe unpacking are `model_zoo.fetch`'s, shared with the weights; this
module only knows where each dataset's files go and records what it fetched in `DOWNLOADS.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from model_zoo.fetch import DownloadError, download, extract, network_problem, url_host

from ..runtime.atomic import atomic_write_text
from .images import DatasetError
from .registry import DatasetSpec, get_dataset_spec
from .sources import DatasetSource

DOWNLOAD_RECORD = "DOWNLOADS.json"
ARCHIVES_DIR = ".downloads"  # archives wait here between download and unpacking; a bad one is kept aside here


def source_file(spec: DatasetSpec) -> str:
    """Where a dataset's source (and its pinned sha256) is written: the module of its check, beside its loader."""
    return spec.verify.__module__.replace(".", "/") + ".py"


def _fetch(url: str, target: Path, sha256: str | None, by_hand: str, progress: Callable[[str], None], recorded_in: str) -> str:
    problem = network_problem(url_host(url))
    if problem:
        raise DownloadError(f"{problem}: cannot fetch {url}; {by_hand}")
    digest = download(url, target, sha256, recorded_in, by_hand=by_hand)
    progress(f"fetched {url} -> {target}")
    return digest


def download_dataset(name: str, data_root: Path, progress: Callable[[str], None] = print) -> list[str]:
    """Fetch, verify and unpack what `name` publishes; returns the instructions for what remains."""
    spec = get_dataset_spec(name)
    source = spec.source
    if not source.fetches_anything:
        raise DatasetError(f"dataset '{name}' has nothing to download ({spec.local_copy(data_root)})")
    data_root.mkdir(parents=True, exist_ok=True)
    record_path = data_root / DOWNLOAD_RECORD
    record = _read_record(record_path)
    try:
        _download_all(source, data_root, record, progress, source_file(spec))
    finally:
        archives = data_root / ARCHIVES_DIR
        if archives.is_dir() and not any(archives.iterdir()):
            archives.rmdir()
    if source.downloads:
        atomic_write_text(record_path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return [source.manual.format(root=data_root)] if source.manual else []


def _read_record(path: Path) -> dict:
    """`DOWNLOADS.json` (what was fetched, with its sha256); a damaged one is one line naming it."""
    if not path.is_file():
        return {}
    fix = "delete it (it is rewritten by the next download)"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise DatasetError(f"{path} is not valid JSON ({error}); {fix}") from None
    if not isinstance(record, dict):
        raise DatasetError(f"{path}: expected a JSON object, got {type(record).__name__ if record is not None else 'null'}; {fix}")
    return record


def _download_all(source: DatasetSource, data_root: Path, record: dict, progress: Callable[[str], None], recorded_in: str) -> None:
    for item in source.downloads:
        destination = data_root / item.destination
        if item.filename is not None:
            target = destination / item.filename
            digest = _fetch(item.url, target, item.sha256, f"download it by hand and put it at {target}", progress, recorded_in)
        else:
            archive = data_root / ARCHIVES_DIR / PurePosixPath(item.url).name
            flat = ", keeping only the file names" if item.flatten else ""
            digest = _fetch(
                item.url, archive, item.sha256, f"download it by hand and unpack it into {destination}{flat}", progress, recorded_in
            )
            count = extract(archive, destination, flatten=item.flatten)
            archive.unlink()
            progress(f"unpacked {count} files into {destination}")
        pinned = "verified" if item.sha256 else "not published by the source; recorded"
        progress(f"sha256 {digest} ({pinned})")
        record[item.url] = {"sha256": digest, "pinned": item.sha256 is not None}
