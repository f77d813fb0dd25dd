"""Pretrained files by model card: hub ids and URLs with a sha256, one cache, tensors-only loading.

Every file lands under `perceptbench_cache_dir()/weights/` at a path a user can also fill by hand:
`hub/<org>--<repo>/<file>` for Hugging Face hub files, `url/<file>` for URLs, `manual/<file>` for
files with no public download. Streaming, hashing, unpacking and offline mode are `model_zoo.fetch`'s,
shared with the datasets. Checkpoints are read with `torch.load(weights_only=True)` or safetensors,
so a pickle that would run code on load is refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from . import fetch
from .card import WeightsSource
from .fetch import (
    MISMATCH_SUFFIX,
    VERIFIED_SUFFIX,
    DownloadError,
    check_sha256,
    download,
    extract,
    is_offline,
    network_problem,
    sha256_of,
    url_host,
)
from .weights import WeightsUnavailableError, perceptbench_cache_dir

__all__ = [
    "MISMATCH_SUFFIX",
    "VERIFIED_SUFFIX",
    "ChecksumMismatchError",
    "UnsafeCheckpointError",
    "cached_path",
    "fetch_first_available",
    "fetch_folder",
    "fetch_weights",
    "is_offline",
    "load_checkpoint",
    "sha256_of",
    "strip_prefix",
    "weights_dir",
]

HUB_HOST = "huggingface.co"
CARD_RECORD = "the model card"


class ChecksumMismatchError(WeightsUnavailableError, fetch.ChecksumMismatchError):
    """A weights file whose sha256 is not the model card's: caught as a weights error and as a checksum error."""


@contextmanager
def _as_weights_error() -> Iterator[None]:
    """`model_zoo.fetch`'s errors as `WeightsUnavailableError`, the one error callers of this module catch."""
    try:
        yield
    except WeightsUnavailableError:
        raise
    except fetch.ChecksumMismatchError as error:
        raise ChecksumMismatchError(str(error)) from error
    except DownloadError as error:
        raise WeightsUnavailableError(str(error)) from error


class UnsafeWeightsPathError(WeightsUnavailableError, fetch.UnsafePathError):
    """A card's hub id or filename that would name a file outside the weights cache."""


CACHE_LINK_FIX = "move the file into the cache, or point $PERCEPTBENCH_CACHE at the folder that holds it"


class UnsafeCheckpointError(WeightsUnavailableError):
    """A checkpoint that `torch.load(weights_only=True)` refuses (it would run code when unpickled)."""


def weights_dir() -> Path:
    """The folder every weights file is cached under (`<cache>/weights`)."""
    return perceptbench_cache_dir() / "weights"


def cached_path(source: WeightsSource, filename: str | None = None) -> Path:
    """Where the file of `source` lives in the cache (whether or not it is there yet), refused when it would leave the cache.

    Cards come from outside too (a submission's, an entry point's): a hub id or filename with '..', an absolute
    path or a backslash, or a cached link pointing out of the cache, is an `UnsafeWeightsPathError`.
    """
    name = filename or source.filename
    if source.hub_id:
        if not name:
            raise ValueError(f"hub weights '{source.hub_id}' need a filename")
        repo = _hub_repo(source.hub_id)
        if "\\" in repo or ".." in repo.split("/") or repo.count("/") > 1:
            raise UnsafeWeightsPathError(f"hub id '{source.hub_id}' is not 'org/repo'; fix the model card")
        relative = f"hub/{repo.replace('/', '--')}/{name}"
    elif source.url:
        relative = f"url/{name or source.url.rstrip('/').rsplit('/', 1)[-1]}"
    elif name:
        relative = f"manual/{name}"
    else:
        raise ValueError(f"weights source {source} names no file")
    try:
        return fetch.path_inside(
            weights_dir(), relative, follow_links=False, source="the model card", where="the weights cache", link_fix=CACHE_LINK_FIX
        )
    except fetch.UnsafePathError as error:
        raise UnsafeWeightsPathError(str(error)) from None


def _hub_repo(hub_id: str) -> str:
    return hub_id.removeprefix("hf-hub:").strip("/")


def _host(source: WeightsSource) -> str | None:
    return url_host(source.url) if source.url else HUB_HOST


def _label(what: str) -> str:
    return f" for {what}" if what else ""


def _offline_hint() -> str:
    return "" if is_offline() else " (or set PERCEPTBENCH_OFFLINE=1 to use cached files only)"


def _check_downloadable(source: WeightsSource, target: Path, what: str) -> None:
    """Refuse at once, in one line, a file that has no public download or that the network cannot bring now."""
    if not (source.hub_id or source.url):
        raise WeightsUnavailableError(
            f"weights file '{target.name}'{_label(what)} is not cached and has no public download "
            f"({source.note or 'see the model card'}); put the file at {target}"
        )
    problem = network_problem(_host(source))
    if problem:
        raise WeightsUnavailableError(
            f"{problem} and weights file '{target.name}'{_label(what)} is not cached; download {_describe_origin(source, target.name)} "
            f"and put it at {target}{_offline_hint()}"
        )


def fetch_weights(source: WeightsSource, filename: str | None = None, what: str = "") -> Path:
    """Path of the cached file of `source`, downloading (and verifying) it first when needed."""
    target = cached_path(source, filename)
    if target.exists():
        with _as_weights_error():
            check_sha256(target, source.sha256, "", CARD_RECORD, remember=True)
        return target
    _check_downloadable(source, target, what)
    if source.url:
        with _as_weights_error():
            download(source.url, target, source.sha256, CARD_RECORD, remember=True, what=f"weights file '{target.name}'{_label(what)}")
        return target
    try:
        _download_from_hub(_hub_repo(str(source.hub_id)), target)
    except Exception as error:  # the hub client's network errors come in many types
        raise WeightsUnavailableError(
            f"could not download weights file '{target.name}'{_label(what)} ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            f"download {_describe_origin(source, target.name)} by hand and put it at {target}"
        ) from error
    with _as_weights_error():
        check_sha256(target, source.sha256, _origin(source), CARD_RECORD, remember=True)
    return target


def weights_unavailable(source: WeightsSource) -> str | None:
    """Why the weights of `source` cannot be had now (not cached, and no network or no public download), or None.

    `--model PATTERN` leaves such models out instead of stopping at the first (`bench evaluate --model 'iqa-*'`).
    """
    if source.package:
        return None
    try:
        if cached_path(source).exists():
            return None
    except ValueError:  # a source naming no single file (open_clip's, pyiqa's): its download decides
        pass
    if source.hub_id or source.url:
        return network_problem(_host(source))
    return "no public download and not in the cache"


def fetch_first_available(source: WeightsSource, filenames: Sequence[str], what: str = "") -> Path:
    """The first of `filenames` that is cached or downloadable (hub repos publish one of several names)."""
    for name in filenames:
        if cached_path(source, name).exists():
            return fetch_weights(source, name, what)
    problem = network_problem(_host(source)) if (source.hub_id or source.url) else None
    if problem and len(filenames) > 1:  # one line for all names, not one error per name
        names = " or ".join(f"'{name}'" for name in filenames)
        folder = cached_path(source, filenames[0]).parent
        raise WeightsUnavailableError(
            f"{problem} and no weights file{_label(what)} is cached; download {names} from {_origin(source)} "
            f"and put it at {folder}/ (one of them is enough){_offline_hint()}"
        )
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
    """A folder of files (a LoRA adapter, a release zip): the archive is fetched, then unpacked beside it once."""
    folder = cached_path(source).with_suffix("")
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    archive = fetch_weights(source, what=what)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:  # unpacked aside, then renamed: a half-unpacked folder never looks complete
        with _as_weights_error():
            extract(archive, staging)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder


def _origin(source: WeightsSource) -> str:
    """The hub repository's page or the URL the file comes from."""
    return f"https://huggingface.co/{_hub_repo(source.hub_id)}" if source.hub_id else (source.url or "")


def _describe_origin(source: WeightsSource, name: str) -> str:
    return f"'{name}' from {_origin(source)}" if source.hub_id else (source.url or "it")


def _download_from_hub(repo_id: str, target: Path) -> None:
    from huggingface_hub import hf_hub_download

    target.parent.mkdir(parents=True, exist_ok=True)
    downloaded = Path(hf_hub_download(repo_id=repo_id, filename=target.name, local_dir=target.parent))
    if downloaded.resolve() != target.resolve():
        os.replace(downloaded, target)


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
