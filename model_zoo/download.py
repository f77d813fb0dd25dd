"""The one downloader for pretrained files: hub ids, URLs with a sha256, one cache, safe loading.

Every file lands under `perceptbench_cache_dir()/weights/` at a path a user can also fill by hand:
`hub/<org>--<repo>/<file>` for Hugging Face hub files, `url/<file>` for URLs, `manual/<file>` for
files with no public download. Checkpoints are read with `torch.load(weights_only=True)` or
safetensors, so a pickle that would run code on load is refused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .card import WeightsSource
from .weights import WeightsUnavailableError, perceptbench_cache_dir

VERIFIED_SUFFIX = ".sha256-verified"
MISMATCH_SUFFIX = ".sha256-mismatch"


class ChecksumMismatchError(WeightsUnavailableError):
    """A downloaded or cached file does not have the sha256 recorded in the model card."""


class UnsafeCheckpointError(WeightsUnavailableError):
    """A checkpoint that `torch.load(weights_only=True)` refuses (it would run code when unpickled)."""


def weights_dir() -> Path:
    return perceptbench_cache_dir() / "weights"


def is_offline() -> bool:
    """`PERCEPTBENCH_OFFLINE=1` or `HF_HUB_OFFLINE=1`: use cached files only, never the network."""
    return any(os.environ.get(var, "").lower() in ("1", "true", "yes") for var in ("PERCEPTBENCH_OFFLINE", "HF_HUB_OFFLINE"))


def cached_path(source: WeightsSource, filename: str | None = None) -> Path:
    """Where the file of `source` lives in the cache (whether or not it is there yet)."""
    name = filename or source.filename
    if source.hub_id:
        if not name:
            raise ValueError(f"hub weights '{source.hub_id}' need a filename")
        return weights_dir() / "hub" / _hub_repo(source.hub_id).replace("/", "--") / name
    if source.url:
        return weights_dir() / "url" / (name or source.url.rstrip("/").rsplit("/", 1)[-1])
    if not name:
        raise ValueError(f"weights source {source} names no file")
    return weights_dir() / "manual" / name


def _hub_repo(hub_id: str) -> str:
    return hub_id.removeprefix("hf-hub:").strip("/")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str | None) -> None:
    """Check `path` against `expected` once (a sidecar remembers success); keep a bad file aside, renamed."""
    if not expected:
        return
    marker = path.with_name(path.name + VERIFIED_SUFFIX)
    if marker.exists() and marker.read_text().strip() == expected:
        return
    actual = sha256_of(path)
    if actual != expected.lower():
        aside = path.with_name(path.name + MISMATCH_SUFFIX)
        os.replace(path, aside)
        raise ChecksumMismatchError(
            f"sha256 of '{path.name}' is {actual}, the model card records {expected}; the file was kept aside "
            f"as '{aside}'. Delete it and download again, or fix the card if the upstream file changed."
        )
    marker.write_text(expected)


HUB_HOST = "huggingface.co"
_REACHABLE: dict[str, bool] = {}


def host_reachable(host: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to `host`:443 opens within `timeout` (asked once per process).

    Without it, an offline machine waits about a minute per missing file on the hub client's
    retries and prints screens of warnings before our one-line error.
    """
    if host not in _REACHABLE:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            _REACHABLE[host] = True
        except OSError:
            _REACHABLE[host] = False
    return _REACHABLE[host]


def fetch_weights(source: WeightsSource, filename: str | None = None, what: str = "") -> Path:
    """Path of the cached file of `source`, downloading (and verifying) it first when needed."""
    target = cached_path(source, filename)
    label = f" for {what}" if what else ""
    if target.exists():
        verify_sha256(target, source.sha256)
        return target
    origin = _describe_origin(source, target.name)
    if not (source.hub_id or source.url):
        raise WeightsUnavailableError(
            f"weights file '{target.name}'{label} is not cached and has no public download ({source.note or 'see the model card'}); "
            f"put the file at {target}"
        )
    if is_offline():
        raise WeightsUnavailableError(
            f"offline and weights file '{target.name}'{label} is not cached; download {origin} and put it at {target}"
        )
    host = urllib.parse.urlparse(source.url).hostname if source.url else HUB_HOST
    if host and not host_reachable(host):
        raise WeightsUnavailableError(
            f"cannot reach {host} and weights file '{target.name}'{label} is not cached; download {origin} and put it at {target} "
            "(or set PERCEPTBENCH_OFFLINE=1 to use cached files only)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if source.hub_id:
            _download_from_hub(_hub_repo(source.hub_id), target)
        else:
            _download_url(source.url, target)
    except WeightsUnavailableError:
        raise
    except Exception as error:  # network errors come in many types
        raise WeightsUnavailableError(
            f"could not download weights file '{target.name}'{label} ({type(error).__name__}: {error}); "
            f"download {origin} by hand and put it at {target}"
        ) from error
    verify_sha256(target, source.sha256)
    return target


def fetch_first_available(source: WeightsSource, filenames: Sequence[str], what: str = "") -> Path:
    """The first of `filenames` that is cached or downloadable (hub repos publish one of several names)."""
    for name in filenames:
        if cached_path(source, name).exists():
            return fetch_weights(source, name, what)
    errors = []
    for name in filenames:
        try:
            return fetch_weights(source, name, what)
        except ChecksumMismatchError:
            raise
        except WeightsUnavailableError as error:
            errors.append(str(error))
    raise WeightsUnavailableError(errors[0] if len(errors) == 1 else " | ".join(errors))


def fetch_folder(source: WeightsSource, what: str = "") -> Path:
    """A folder of files (a LoRA adapter, a release zip): the zip is fetched, then extracted beside it once."""
    folder = cached_path(source).with_suffix("")
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    archive = fetch_weights(source, what=what)
    extract_zip(archive, folder)
    return folder


def extract_zip(archive: Path, folder: Path) -> None:
    """Extract `archive` into `folder`, refusing members that would land outside it."""
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                if not (staging / member).resolve().is_relative_to(staging.resolve()):
                    raise WeightsUnavailableError(f"archive '{archive}' has a member outside its folder: '{member}'")
            zipped.extractall(staging)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _describe_origin(source: WeightsSource, name: str) -> str:
    if source.hub_id:
        return f"'{name}' from https://huggingface.co/{_hub_repo(source.hub_id)}"
    return source.url or "it"


def _download_from_hub(repo_id: str, target: Path) -> None:
    from huggingface_hub import hf_hub_download

    downloaded = Path(hf_hub_download(repo_id=repo_id, filename=target.name, local_dir=target.parent))
    if downloaded.resolve() != target.resolve():
        os.replace(downloaded, target)


def _download_url(url: str, target: Path) -> None:
    """Stream to a temporary file beside `target`, then rename: a cut download never looks complete."""
    handle, partial = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint as tensors only: safetensors, or `torch.load(weights_only=True)`."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise UnsafeCheckpointError(
            f"refusing to load '{path}': it is not a plain tensor checkpoint ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). Re-save it as a state dict of tensors, or as safetensors."
        ) from error


def strip_prefix(state_dict: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Keys under `prefix` with the prefix removed (checkpoints saved from wrapped modules)."""
    return {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
