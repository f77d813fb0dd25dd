"""Resumable runs: the per-sample outcomes of finished batches, appended to a file beside the result.

Each line holds one batch and the hash of the full configuration that produced it, so a re-run of
the same command skips what is done, and a changed configuration never mixes with old outcomes.
A line torn by a kill is ignored; that batch is simply evaluated again.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from .atomic import naming_path

PARTIAL_SUFFIX = ".partial.jsonl"


def configuration_hash(identity: dict[str, Any]) -> str:
    """A short, stable hash of everything that can change a run's per-sample outcomes."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class BatchCheckpoint:
    """Finished batches of one configuration, one file per process (`<stem>.<hash>.rank<R>.partial.jsonl`).

    `part` names a `--shard` job's file (`<stem>.<hash>.shard<i>of<n>.rank<R>.partial.jsonl`); every file of the
    configuration hash is read, so the unsharded run (or `--merge-shards`) finds the shards' batches.
    """

    def __init__(self, result_path: str | Path, config_hash: str, rank: int = 0, part: str = ""):
        result_path = Path(result_path)
        self.directory = result_path.parent
        self.stem = result_path.stem
        self.config_hash = config_hash
        self.path = self.directory / f"{self.stem}.{config_hash}.{part}rank{rank}{PARTIAL_SUFFIX}"

    def _own_files(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self.stem}.{self.config_hash}.*rank*{PARTIAL_SUFFIX}"))

    def load(self) -> dict[int, list[dict[str, Any]]]:
        """Outcomes of the batches this configuration already finished, by batch index (any rank)."""
        stale = [p for p in self.directory.glob(f"{self.stem}.*{PARTIAL_SUFFIX}") if p not in self._own_files()]
        for path in stale:
            warnings.warn(f"ignoring {path}: partial results of a different configuration (delete it if unwanted)", stacklevel=2)
        finished: dict[int, list[dict[str, Any]]] = {}
        for path in self._own_files():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn by a kill mid-write
                if isinstance(entry, dict) and entry.get("config_hash") == self.config_hash:
                    finished[int(entry["batch"])] = entry["records"]
        return finished

    def append(self, batch: int, records: list[dict[str, Any]]) -> None:
        """Record a finished batch durably (flushed and fsynced) before the run moves on."""
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"config_hash": self.config_hash, "batch": batch, "records": records})
        try:
            with self.path.open("a+b") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() > 0:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":  # a torn last line: start ours on a fresh line
                        handle.write(b"\n")
                handle.write(line.encode("utf-8") + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:  # a full disk's write() names no file; a torn line is skipped on resume
            raise naming_path(error, self.path) from error

    def discard(self) -> None:
        """Remove this configuration's partial files once the final result is written."""
        for path in self._own_files():
            path.unlink(missing_ok=True)
