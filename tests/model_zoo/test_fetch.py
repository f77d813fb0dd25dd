"""The one fetcher under weights and datasets: streamed downloads, sha256 errors, safe unpacking, offline mode."""

import hashlib
import http.client
import io
import stat
import tarfile
import time
import zipfile

import pytest

import model_zoo.fetch as fetch
from model_zoo.fetch import (
    MISMATCH_SUFFIX,
    ChecksumMismatchError,
    DownloadError,
    UnsafeArchiveError,
    download,
    extract,
    network_problem,
)


def _zip(path, files=(), links=()):
    """A zip of `files` {name: bytes} and symlinks `links` {name: target} (stored as zip tools store them)."""
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in dict(files).items():
            bundle.writestr(name, data)
        for name, target in dict(links).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def _tar(path, files=(), links=(), hardlinks=()):
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in dict(files).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for kind, pairs in ((tarfile.SYMTYPE, links), (tarfile.LNKTYPE, hardlinks)):
            for name, target in dict(pairs).items():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = kind, target
                bundle.addfile(info)
    return path


ESCAPES = {
    "dot-dot": dict(files={"ok/a.txt": b"a", "ok/../../escaped.txt": b"x"}),
    "absolute": dict(files={"ok/a.txt": b"a", "/tmp/escaped.txt": b"x"}),
    "symlink out": dict(files={"ok/a.txt": b"a"}, links={"ok/passwd": "../../../../etc/passwd"}),
    "absolute symlink": dict(files={"ok/a.txt": b"a"}, links={"ok/passwd": "/etc/passwd"}),
}


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("write", [_zip, _tar], ids=["zip", "tar"])
def test_zip_and_tar_members_leaving_the_destination_are_refused_before_anything_is_written(tmp_path, write, escape):
    archive = write(tmp_path / "evil.archive", **ESCAPES[escape])
    with pytest.raises(UnsafeArchiveError, match=r"refusing to unpack .*evil\.archive.* outside "):
        extract(archive, tmp_path / "out" / "dest")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped.txt").exists()


def test_tar_hardlink_out_is_refused(tmp_path):
    archive = _tar(tmp_path / "evil.tgz", files={"a.txt": b"a"}, hardlinks={"b.txt": "../outside.txt"})
    with pytest.raises(UnsafeArchiveError, match="points outside"):
        extract(archive, tmp_path / "out")


@pytest.mark.parametrize("write", [_zip, _tar], ids=["zip", "tar"])
def test_links_inside_become_copies_and_flatten_keeps_file_names(tmp_path, write):
    archive = write(tmp_path / "good.archive", files={"top/sub/a.txt": b"alpha"}, links={"top/b.txt": "sub/a.txt"})
    assert extract(archive, tmp_path / "tree") == 2
    copy = tmp_path / "tree" / "top" / "b.txt"
    assert copy.read_bytes() == b"alpha" and not copy.is_symlink()
    assert extract(archive, tmp_path / "flat", flatten=True) == 2
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == ["a.txt", "b.txt"]


def test_a_file_that_is_no_archive_says_so(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not an archive")
    with pytest.raises(DownloadError, match="neither a zip nor a tar archive"):
        extract(tmp_path / "x.zip", tmp_path / "out")


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_a_corrupted_download_leaves_no_file_in_place_and_names_both_hashes(tmp_path, online):
    served = tmp_path / "server" / "data.bin"
    served.parent.mkdir()
    served.write_bytes(b"corrupted bytes")
    actual = hashlib.sha256(b"corrupted bytes").hexdigest()
    target = tmp_path / "cache" / "data.bin"
    with pytest.raises(ChecksumMismatchError) as error:
        download(served.as_uri(), target, "ab" * 32, recorded_in="the model card")
    message = str(error.value)
    assert (
        f"sha256 {actual}, expected {'ab' * 32}" in message and "'data.bin'" in message and "update the sha256 in the model card" in message
    )
    assert not target.exists() and not list(target.parent.glob("*.part"))
    assert (target.parent / ("data.bin" + MISMATCH_SUFFIX)).read_bytes() == b"corrupted bytes"
    assert download(served.as_uri(), target, actual) == actual and target.read_bytes() == b"corrupted bytes"


def test_a_cut_download_leaves_no_file_in_place(tmp_path, online):
    target = tmp_path / "cache" / "gone.bin"
    with pytest.raises(DownloadError, match=r"could not download 'gone\.bin' from file:.*put it at .*gone\.bin"):
        download((tmp_path / "nowhere.bin").as_uri(), target)
    assert not any(target.parent.iterdir())


class _CutStream(io.BytesIO):
    """A response that sends one block and then loses the connection."""

    def read(self, size=-1):
        if self.tell():
            raise http.client.IncompleteRead(b"", 100)
        return super().read(size)


def test_a_download_cut_mid_stream_leaves_no_file_in_place(tmp_path, online, monkeypatch):
    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda url, timeout: _CutStream(b"first block"))
    target = tmp_path / "cache" / "big.bin"
    with pytest.raises(DownloadError, match=r"could not download 'big\.bin' .*IncompleteRead"):
        download("https://example.org/big.bin", target)
    assert not any(target.parent.iterdir())


def test_offline_is_reported_without_touching_the_network(monkeypatch):
    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    monkeypatch.setattr(fetch, "host_reachable", lambda host: pytest.fail("offline must not probe the network"))
    assert network_problem("example.org").startswith("offline")


def test_an_unreachable_host_is_found_fast_and_asked_once(monkeypatch, online):
    monkeypatch.setattr(fetch, "_REACHABLE", {})
    start = time.monotonic()
    assert network_problem("unreachable.invalid") == "cannot reach unreachable.invalid"
    assert time.monotonic() - start < 5 and fetch._REACHABLE == {"unreachable.invalid": False}
    assert network_problem(None) is None  # file:// URLs have no host
