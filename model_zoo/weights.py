"""Errors for weights that cannot be had, and the cache folder they are looked for in."""

from __future__ import annotations

import os
from pathlib import Path

from .fetch import DownloadError


class WeightsUnavailableError(DownloadError):
    """Pretrained weights are neither cached nor downloadable (offline, or the source is gone)."""


def perceptbench_cache_dir() -> Path:
    """`$PERCEPTBENCH_CACHE`, else the user's cache folder (`~/.cache/perceptbench`)."""
    configured = os.environ.get("PERCEPTBENCH_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "perceptbench"
