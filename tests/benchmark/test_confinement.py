"""Every path read from a card, a dataset file or an archive stays inside its own root, links resolved."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tarfile

import pytest
from click.testing import CliRunner

from benchmark.cli.bench import main
from benchmark.datasets import DatasetError, load_dataset
from benchmark.datasets.demo import write_demo
from benchmark.datasets.verify import verify_dataset
from model_zoo import WeightsUnavailableError
from model_zoo.card import WeightsSource
from model_zoo.download import cached_path, fetch_weights
from model_zoo.fetch import DownloadError, UnsafePathError, extract, following_links, path_inside
from tests.paper_data import write_nights as write_nights_rows


def write_nights(root):
    """Four NIGHTS test triplets with six votes each, in the real layout."""
    rows = [dict(left_vote=2, right_vote=4, votes=6, split="test", is_imagenet="True") for _ in range(4)]
    return write_nights_rows(root, rows)


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    (tmp_path / "cache" / "weights" / "hub" / "org--repo").mkdir(parents=True)
    return tmp_path / "cache"


def test_a_card_filename_climbing_out_of_the_cache_touches_nothing_there(cache, tmp_path):
    """The issue's case: `../` in a hub filename renamed (sha mismatch) or marked a file outside the cache."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    climb = os.path.relpath(victim, cache / "weights" / "hub" / "org--repo")
    for sha in (hashlib.sha256(b"precious").hexdigest(), "0" * 64):  # marks as verified / renames as mismatch
        with pytest.raises(WeightsUnavailableError, match="outside"):
            fetch_weights(WeightsSource(hub_id="hf-hub:org/repo", filename=climb, sha256=sha))
    assert victim.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "victim.txt"]


@pytest.mark.parametrize(
    "source",
    [
        WeightsSource(hub_id="hf-hub:org/repo", filename="/etc/passwd"),
        WeightsSource(hub_id="hf-hub:org/repo", filename="sub\\..\\..\\x.pt"),
        WeightsSource(hub_id="hf-hub:../../etc", filename="x.pt"),
        WeightsSource(hub_id="hf-hub:org\\repo", filename="x.pt"),
        WeightsSource(url="https://example.org/weights/..", sha256=None),
        WeightsSource(filename="../manual.pt"),
    ],
)
def test_hub_ids_and_filenames_with_dot_dot_absolute_or_backslash_are_refused(cache, source):
    with pytest.raises(UnsafePathError) as caught:
        cached_path(source)
    assert len(str(caught.value).splitlines()) == 1


def test_a_symlink_in_the_cache_pointing_out_is_refused(cache, tmp_path):
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(b"x")
    (cache / "weights" / "hub" / "org--repo" / "w.pt").symlink_to(outside)
    with pytest.raises(WeightsUnavailableError, match="outside"):
        fetch_weights(WeightsSource(hub_id="hf-hub:org/repo", filename="w.pt", sha256="0" * 64))
    assert outside.exists() and not list(tmp_path.glob("elsewhere.pt.*"))


def test_path_inside_resolves_links_and_names_the_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a.txt").write_text("a")
    assert path_inside(tmp_path / "root", "a.txt") == tmp_path / "root" / "a.txt"
    (tmp_path / "root" / "out").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match=r"'out/x', which links to .*, outside .*root"):
        path_inside(tmp_path / "root", "out/x")
    assert path_inside(tmp_path / "root", "out/x", follow_links=True) == tmp_path / "root" / "out" / "x"
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root" / "loop")
    with pytest.raises(UnsafePathError):
        path_inside(tmp_path / "root", "loop/x")


def _tar(path, files):
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return path


def test_extraction_is_all_or_nothing(tmp_path, monkeypatch):
    """A member that fails half-way (here: the disk fills on the third) leaves nothing in the destination."""
    archive = _tar(tmp_path / "a.tgz", {f"d/{n}.txt": b"x" * 10 for n in range(4)})
    destination = tmp_path / "data"
    destination.mkdir()
    (destination / "keep.txt").write_text("old")
    import shutil

    real, calls = shutil.copyfileobj, []

    def failing(source, sink, length=0):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(source, sink, length)

    monkeypatch.setattr(shutil, "copyfileobj", failing)
    with pytest.raises(OSError):
        extract(archive, destination)
    assert sorted(p.name for p in destination.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tgz", "data"], "no staging folder left behind"
    monkeypatch.setattr(shutil, "copyfileobj", real)
    assert extract(archive, destination) == 4
    assert sorted(p.name for p in (destination / "d").iterdir()) == ["0.txt", "1.txt", "2.txt", "3.txt"]
    assert (destination / "keep.txt").read_text() == "old"


def test_a_truncated_tgz_is_one_line_error(tmp_path):
    archive = _tar(tmp_path / "a.tgz", {f"d/{n}.bin": os.urandom(50_000) for n in range(3)})
    archive.write_bytes(archive.read_bytes()[:60_000])
    with pytest.raises(DownloadError, match=r"a\.tgz.*(truncated|corrupt).*download again"):
        extract(archive, tmp_path / "data")
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_nights_paths_linking_out_of_the_dataset_folder_are_refused_unless_followed(tmp_path):
    write_nights(tmp_path / "data")
    folder = tmp_path / "data" / "nights"
    with (folder / "data.csv").open(newline="") as handle:
        first = next(csv.DictReader(handle))
    image = folder / first["ref_path"]
    outside = tmp_path / "outside.png"
    os.replace(image, outside)
    image.symlink_to(outside)
    with pytest.raises(DatasetError, match="outside the dataset folder.*--follow-links"):
        load_dataset("nights", tmp_path / "data")
    with following_links(True):
        assert len(load_dataset("nights", tmp_path / "data")) > 0
    report = verify_dataset("nights", tmp_path / "data")
    assert not report.ok and any("outside the dataset folder" in p for p in report.problems)


def test_bapps_and_things_links_out_are_refused(tmp_path):
    split = tmp_path / "data" / "bapps" / "2afc" / "val" / "traditional"
    write_demo(split, n_triplets=2)
    target = next((split / "p0").iterdir())
    outside = tmp_path / "outside.png"
    os.replace(target, outside)
    target.symlink_to(outside)
    with pytest.raises(DatasetError, match="outside the dataset folder"):
        load_dataset("bapps", tmp_path / "data", "traditional")


def test_evaluate_takes_follow_links(tmp_path):
    write_nights(tmp_path / "data")
    folder = tmp_path / "data" / "nights"
    outside = tmp_path / "distort"
    os.replace(folder / "distort", outside)
    (folder / "distort").symlink_to(outside)
    base = ["evaluate", "--model", "pixel-l2", "--threat", "l2", "--dataset", "nights", "--data-root", str(tmp_path / "data")]
    base += ["--n-ex", "2", "--n-iter", "1", "--quiet", "--attack", "none", "--output-dir", str(tmp_path / "results")]
    refused = CliRunner().invoke(main, base)
    assert refused.exit_code == 1 and "--follow-links" in refused.output, refused.output
    assert CliRunner().invoke(main, [*base, "--follow-links"]).exit_code == 0
