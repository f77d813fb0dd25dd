"""The one fetcher under weights and datasets: sha256, streamed downloads, safe unpacking, offline mode.

`model_zoo.download` (weights: cache layout, hub, model cards) and `benchmark.datasets.download`
(dataset sources and the data root) both call these; neither streams, hashes or unpacks on its own.
Not pooch: before Python 3.12 its Untar writes `../` members, it has no hub or offline mode, and wrapping it saved no code.
"""

from __future__ import annotations

import contextvars
import functools
import gzip
import hashlib
import http.client
import os
import posixpath
import shutil
import socket
import stat
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

CHUNK = 1 << 20
VERIFIED_SUFFIX = ".sha256-verified"
MISMATCH_SUFFIX = ".sha256-mismatch"
OFFLINE_VARIABLES = ("PERCEPTBENCH_OFFLINE", "HF_HUB_OFFLINE")


class DownloadError(RuntimeError):
    """A file could not be fetched, verified or unpacked; the message names the file and the fix."""


class ChecksumMismatchError(DownloadError):
    """A file's sha256 is not the recorded one: a corrupted download, or the publisher changed the file."""


class UnsafeArchiveError(DownloadError):
    """An archive member would land outside the destination (absolute path, `..`, or a link pointing out)."""


class UnsafePathError(DownloadError):
    """A path read from a card, a dataset file or an archive would leave its root (`..`, absolute, backslash, a link out)."""


_FOLLOW_LINKS: contextvars.ContextVar[bool] = contextvars.ContextVar("follow_links", default=False)
LINK_FIX = "move the file inside, or pass --follow-links to accept links that leave it"


@contextmanager
def following_links(follow: bool = True) -> Iterator[None]:
    """Within the block, `path_inside` accepts links that leave their root (`--follow-links`); text escapes stay refused."""
    token = _FOLLOW_LINKS.set(follow)
    try:
        yield
    finally:
        _FOLLOW_LINKS.reset(token)


def links_followed() -> bool:
    """Whether links leaving their root are accepted here (inside `following_links`)."""
    return _FOLLOW_LINKS.get()


def path_inside(
    root: str | Path, relative: str, follow_links: bool | None = None, source: str | Path = "", where: str = "", link_fix: str = LINK_FIX
) -> Path:
    """`root / relative`, refused (`UnsafePathError`, one line) unless it stays inside `root` once links are resolved.

    The one confinement check for every path read from outside (a card's hub id or filename, a
    dataset's csv or image list, a listed folder): `relative` must be non-empty, relative, use '/'
    and never climb with '..'; then its resolved target must lie under the resolved `root`, unless
    links are followed (`follow_links`, by default the `following_links` setting). `source` names
    the file that gave the path, `where` what the root is ("the dataset folder").
    """
    root = Path(root)
    said = f"{source} names '{relative}'" if source else f"'{relative}'"
    inside = f"{where} {root}" if where else str(root)
    text = relative if isinstance(relative, str) else ""
    parts = text.split("/")
    if not text or "\\" in text or "\0" in text or "" in parts[:-1] or ".." in parts:  # "" before the end: absolute or '//'
        raise UnsafePathError(f"{said}, which is outside {inside}; a path there must be relative, use '/' and never '..'")
    path = root / text
    if follow_links if follow_links is not None else _FOLLOW_LINKS.get():
        return path
    try:
        resolved, resolved_root = path.resolve(), root.resolve()
    except (OSError, RuntimeError) as error:  # a link loop (RuntimeError before Python 3.13)
        raise UnsafePathError(f"{said}, which cannot be resolved inside {inside} ({error}); remove the link loop") from None
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise UnsafePathError(f"{said}, which links to {resolved}, outside {inside}; {link_fix}")
    return path


def is_offline() -> bool:
    """`PERCEPTBENCH_OFFLINE=1` or `HF_HUB_OFFLINE=1`: use files already on disk, never the network."""
    return any(os.environ.get(variable, "").lower() in ("1", "true", "yes") for variable in OFFLINE_VARIABLES)


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


def network_problem(host: str | None) -> str | None:
    """Why `host` cannot be used now ('offline (...)' or 'cannot reach HOST'), or None when it can.

    Callers put it in front of their own error, which says which file is missing and where it goes.
    A URL without a host (file://) is always usable.
    """
    if is_offline():
        return f"offline ({' or '.join(OFFLINE_VARIABLES)} is set)"
    if host and not host_reachable(host):
        return f"cannot reach {host}"
    return None


def sha256_of(path: Path) -> str:
    """Hex sha256 of the file at `path`, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _mismatch(path: Path, origin: str, expected: str, actual: str, aside: Path, recorded_in: str) -> ChecksumMismatchError:
    source = f" (from {origin})" if origin else ""
    record = f" in {recorded_in}" if recorded_in else ""
    return ChecksumMismatchError(
        f"checksum mismatch for '{path.name}'{source}: sha256 {actual}, expected {expected}; the file was kept aside as "
        f"'{aside}'. Delete it and download again; if the publisher changed the file on purpose, update the sha256{record}."
    )


def _marker(path: Path) -> Path:
    """The `.sha256-verified` sidecar of `path`, refused when a link there would make the write land elsewhere."""
    return path_inside(path.parent, path.name + VERIFIED_SUFFIX, follow_links=False, where="the folder of")


def check_sha256(path: Path, expected: str | None, origin: str = "", recorded_in: str = "", remember: bool = False) -> str:
    """sha256 of `path`, checked against `expected` when given; a mismatching file is moved aside, never left in place.

    `remember` writes a `.sha256-verified` sidecar, so a multi-GB checkpoint is hashed once, not on every load.
    """
    marker = _marker(path)
    if remember and expected and marker.is_file() and marker.read_text().strip() == expected.lower():
        return expected.lower()
    actual = sha256_of(path)
    if expected and actual != expected.lower():
        aside = path.with_name(path.name + MISMATCH_SUFFIX)
        os.replace(path, aside)
        raise _mismatch(path, origin, expected, actual, aside, recorded_in)
    if remember and expected:
        marker.write_text(actual)
    return actual


def download(
    url: str, target: Path, sha256: str | None = None, recorded_in: str = "", remember: bool = False, what: str = "", by_hand: str = ""
) -> str:
    """Stream `url` to `target` and return its sha256; the file takes its name only once complete and verified.

    The bytes go to a temporary file beside `target` and are hashed on the way, so a cut or corrupted
    download never looks complete: a mismatch is kept aside as `<target>.sha256-mismatch`.
    The caller checks `network_problem` first, to say in its own words what to fetch by hand;
    `what` names the file in errors ("weights file 'x.pt' for clip-convnext"); `by_hand` replaces
    "download it by hand and put it at <target>" where the file is unpacked elsewhere.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    digest = hashlib.sha256()
    try:
        try:
            with os.fdopen(descriptor, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                while block := response.read(CHUNK):
                    digest.update(block)
                    out.write(block)
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, refusals; IncompleteRead for a cut stream
            raise DownloadError(
                f"could not download {what or repr(target.name)} from {url} ({type(error).__name__}: {error}); "
                f"check the connection, or {by_hand or f'download it by hand and put it at {target}'}"
            ) from error
        actual = digest.hexdigest()
        if sha256 and actual != sha256.lower():
            aside = target.with_name(target.name + MISMATCH_SUFFIX)
            os.replace(partial, aside)
            raise _mismatch(target, url, sha256, actual, aside, recorded_in)
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)
    if remember and sha256:
        _marker(target).write_text(actual)
    return actual


Opener = Callable[[], IO[bytes]]


def _member_path(archive: Path, destination: Path, name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeArchiveError(f"refusing to unpack '{archive}': member '{name}' would land outside {destination}")
    return path


def _link_inside(archive: Path, destination: Path, name: str, link: str, relative_to_member: bool) -> str:
    """The archive path a link member points to, refused when it points outside the archive's tree."""
    base = posixpath.dirname(name) if relative_to_member else ""
    resolved = posixpath.normpath(posixpath.join(base, link))
    if posixpath.isabs(link) or resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchiveError(f"refusing to unpack '{archive}': link '{name}' -> '{link}' points outside {destination}")
    return resolved


def _zip_members(archive: Path, destination: Path, bundle: zipfile.ZipFile) -> list[tuple[PurePosixPath, Opener]]:
    members: list[tuple[PurePosixPath, Opener]] = []
    for info in bundle.infolist():
        if info.is_dir():
            continue
        path = _member_path(archive, destination, info.filename)
        source = info.filename
        if stat.S_ISLNK(info.external_attr >> 16):  # a symlink: its bytes are the target
            source = _link_inside(archive, destination, info.filename, bundle.read(info).decode(), relative_to_member=True)
            if source not in bundle.namelist():
                raise DownloadError(f"link '{info.filename}' in '{archive}' points to '{source}', which is not a file in the archive")
        members.append((path, functools.partial(bundle.open, source)))
    return members


def _tar_members(archive: Path, destination: Path, bundle: tarfile.TarFile) -> list[tuple[PurePosixPath, Opener]]:
    members: list[tuple[PurePosixPath, Opener]] = []
    for member in bundle:
        if not (member.isfile() or member.issym() or member.islnk()):
            continue  # folders are made as needed; devices and fifos are never written
        path = _member_path(archive, destination, member.name)
        if member.issym() or member.islnk():
            _link_inside(archive, destination, member.name, member.linkname, relative_to_member=member.issym())

        def opener(member: tarfile.TarInfo = member) -> IO[bytes]:
            handle = bundle.extractfile(member)  # follows links inside the archive
            if handle is None:
                raise DownloadError(f"cannot read member '{member.name}' of '{archive}'")
            return handle

        members.append((path, opener))
    return members


def extract(archive: Path, destination: Path, flatten: bool = False) -> int:
    """Unpack a zip or tar(.gz) archive into `destination`, all or nothing; returns the number of files written.

    Every member is checked before anything is written: absolute paths, `..` and links pointing
    out are refused (`UnsafeArchiveError`). Links that stay inside are written as copies, so no
    link is ever created on disk. Members are unpacked into a staging folder beside `destination`
    and moved in only once all are written, so a bad member, a truncated archive or a full disk
    half-way leaves `destination` as it was. `flatten` keeps only file names (archives that nest images).
    """
    made = [folder for folder in (destination.parent, *destination.parent.parents) if not folder.exists()]
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".staging", dir=destination.parent))
    try:
        count = _unpack(archive, staging, destination, flatten)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # the folders made for the staging area, innermost first
            folder.rmdir()
        raise
    try:
        _move_in(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


def _unpack(archive: Path, staging: Path, destination: Path, flatten: bool) -> int:
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                return _write(staging, _zip_members(archive, destination, zipped), flatten)
        try:
            bundle = tarfile.open(archive)
        except tarfile.TarError as error:
            raise DownloadError(f"'{archive}' is neither a zip nor a tar archive ({error}); delete it and download again") from error
        with bundle:
            return _write(staging, _tar_members(archive, destination, bundle), flatten)
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error, EOFError) as error:
        raise DownloadError(
            f"'{archive}' is truncated or corrupt ({type(error).__name__}: {error}); nothing was unpacked, delete it and download again"
        ) from error


def _move_in(staging: Path, destination: Path) -> None:
    """Rename every staged file into `destination` (same file system: each rename is atomic)."""
    destination.mkdir(parents=True, exist_ok=True)
    for staged in sorted(p for p in staging.rglob("*") if p.is_file()):
        target = destination / staged.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)


def _write(folder: Path, members: list[tuple[PurePosixPath, Opener]], flatten: bool) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for path, opener in members:
        out = folder / (path.name if flatten else path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with opener() as source, out.open("wb") as sink:
            shutil.copyfileobj(source, sink, CHUNK)
    return len(members)


def url_host(url: str) -> str | None:
    """The host a URL names (None for file:// URLs), for `network_problem`."""
    return urllib.parse.urlparse(url).hostname
