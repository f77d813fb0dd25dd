"""Dataset files from outside (NIGHTS' data.csv, THINGS' triplets, images, archives, folders): one line per bad input."""

from __future__ import annotations

import io
import os

import pytest
from click.testing import CliRunner
from paper_data import replace_dataset_source, write_imagenet, write_nights, write_things

from benchmark.cli.bench import main
from benchmark.datasets import DatasetError, load_dataset
from model_zoo.fetch import following_links

GOOD_ROW = dict(left_vote=2, right_vote=4, votes=6, split="test", is_imagenet="True")


def _nights_with(tmp_path, **bad):
    """NIGHTS in its real layout: data.csv (by column name, an extra `prompt` column) beside ref/ and distort/."""
    write_nights(tmp_path, [dict(GOOD_ROW), dict(GOOD_ROW, split="val"), dict(GOOD_ROW, **bad)])
    return tmp_path


@pytest.mark.parametrize(
    "bad,column",
    [
        ({"votes": "inf"}, "votes"),
        ({"votes": "nan"}, "votes"),
        ({"votes": "-6"}, "votes"),
        ({"votes": "6.5"}, "votes"),
        ({"votes": "1e400"}, "votes"),
        ({"left_vote": "-1"}, "left_vote"),
        ({"right_vote": ""}, "right_vote"),
        ({"split": "tset"}, "split"),
        ({"is_imagenet": "maybe"}, "is_imagenet"),
        ({"votes": "inf", "split": "train"}, "votes"),  # a row of another split is checked too
    ],
)
def test_a_bad_nights_cell_is_one_line_naming_file_line_column_and_fix(tmp_path, bad, column):
    _nights_with(tmp_path, **bad)
    with pytest.raises(DatasetError) as error:
        load_dataset("nights", tmp_path)
    message = str(error.value)
    assert "\n" not in message and f"data.csv line 4: {column} must be" in message and "bench data download nights" in message


def test_nights_counts_written_as_pandas_floats_are_read(tmp_path):
    write_nights(tmp_path, [dict(GOOD_ROW, votes="6.0", left_vote="2.0", right_vote="4.0")])
    assert [t.judge for t in load_dataset("nights", tmp_path).triplets] == [1.0]


def test_bench_data_verify_reports_a_bad_nights_cell_in_one_line(tmp_path):
    _nights_with(tmp_path, votes="inf")
    out = CliRunner().invoke(main, ["data", "verify", "nights", "--data-root", str(tmp_path)])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert any("data.csv line 4: votes must be a whole number" in line for line in out.output.splitlines())


@pytest.mark.parametrize("cell,column", [("inf", "image1"), ("nan", "image2"), ("2.5", "image3"), ("-1", "choice")])
def test_a_bad_things_cell_is_one_line(tmp_path, cell, column):
    things = write_things(tmp_path, 4, [(1, 2, 3, 1)])
    triplets = things / "triplets_large_final_correctednc_correctedorder.csv"
    header, row = triplets.read_text().splitlines()
    cells = row.split("\t")
    cells[("image1", "image2", "image3", "choice").index(column)] = cell
    triplets.write_text(f"{header}\n" + "\t".join(cells) + "\n")
    with pytest.raises(DatasetError, match=rf"correctedorder\.csv line 2: {column} must be a whole number >= 1, got '{cell}'"):
        load_dataset("things", tmp_path)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # the header survives: Image.open alone accepts it


def test_bench_data_verify_decodes_every_image_and_names_a_truncated_png(tmp_path):
    nights = write_nights(tmp_path, [dict(GOOD_ROW), dict(GOOD_ROW), dict(GOOD_ROW, split="val")])
    runner = CliRunner()
    assert "test: 2 triplets" in runner.invoke(main, ["data", "verify", "nights", "--data-root", str(tmp_path)]).output
    _truncate(nights / "distort" / "000" / "001_1.png")
    out = runner.invoke(main, ["data", "verify", "nights", "--data-root", str(tmp_path)])
    problems = [line for line in out.output.splitlines() if "cannot be decoded" in line]
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert problems and all("001_1.png" in line and "download the dataset again" in line for line in problems)


def test_bench_data_verify_decodes_imagenet_images(tmp_path):
    write_imagenet(tmp_path / "imagenet", {"n01440764": 2, "n01443537": 1}, split="val")
    _truncate(tmp_path / "imagenet" / "val" / "n01443537" / "n01443537_0.JPEG")
    out = CliRunner().invoke(main, ["data", "verify", "imagenet", "--data-root", str(tmp_path)])
    assert out.exit_code == 1 and "1 images cannot be decoded, e.g." in out.output and "n01443537_0.JPEG" in out.output


def _link_out(folder, outside):
    """Replace the first image of the first class folder by a link to a copy outside `folder`."""
    image = sorted(sorted(p for p in folder.iterdir() if p.is_dir())[0].iterdir())[0]
    outside.parent.mkdir(parents=True, exist_ok=True)
    os.replace(image, outside)
    image.symlink_to(outside)


@pytest.mark.parametrize("name", ["imagenet", "imagefolder"])
def test_classification_folder_links_leaving_it_are_refused_unless_followed(tmp_path, name):
    write_imagenet(tmp_path / "imagenet", {"n01440764": 2, "n01443537": 2}, split="val")
    folder = tmp_path / "imagenet" / "val"
    _link_out(folder, tmp_path / "imagenet" / "elsewhere.JPEG")  # beside the folder, not in it: refused too
    options = {"path": str(folder)} if name == "imagefolder" else {}
    with pytest.raises(DatasetError) as error:
        load_dataset(name, tmp_path, **options)
    assert "outside the dataset folder" in str(error.value) and "--follow-links" in str(error.value) and "\n" not in str(error.value)
    with following_links(True):
        assert len(load_dataset(name, tmp_path, **options)) == 4
    out = CliRunner().invoke(main, ["data", "verify", "imagenet", "--data-root", str(tmp_path)])
    assert out.exit_code == 1 and "--follow-links" in out.output


def test_bench_data_download_of_a_truncated_tgz_is_one_line_and_unpacks_nothing(tmp_path, monkeypatch):
    import tarfile

    from benchmark.datasets import sources

    archive = tmp_path / "served" / "nights.tgz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as bundle:
        for n in range(3):
            payload = os.urandom(40_000)
            info = tarfile.TarInfo(f"nights/ref/000/{n:03d}.png")
            info.size = len(payload)
            bundle.addfile(info, io.BytesIO(payload))
    archive.write_bytes(archive.read_bytes()[:50_000])  # a download cut short, published without a sha256
    replace_dataset_source(monkeypatch, "nights", downloads=(sources.Download(url=f"file://{archive}", destination="."),))
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    root = tmp_path / "data"
    out = CliRunner().invoke(main, ["data", "download", "nights", "--data-root", str(root)])
    errors = [line for line in out.output.splitlines() if line.startswith("Error")]
    assert out.exit_code == 1 and "Aborted" not in out.output and "Traceback" not in out.output, out.output
    assert len(errors) == 1 and "nights.tgz" in errors[0] and "truncated or corrupt" in errors[0] and "download again" in errors[0]
    assert not (root / "nights").exists() and not list(root.glob("*.staging")), sorted(p.name for p in root.iterdir())


@pytest.mark.parametrize("content", ["[]", "[1, 2]", '"text"', "3", "null"])
def test_a_json_card_or_record_that_is_not_an_object_is_one_line(tmp_path, content):
    """A trained folder's card, `bench submit --card FILE`, and the data root's DOWNLOADS.json."""
    from benchmark.datasets.download import download_dataset
    from model_zoo.trained_folder import CARD_FILE, read_card

    folder = tmp_path / "trained"
    folder.mkdir()
    (folder / CARD_FILE).write_text(content)
    with pytest.raises(ValueError, match=rf"{CARD_FILE}: expected a JSON object, got \w+$"):
        read_card(folder)
    out = CliRunner().invoke(main, ["evaluate", "--model", str(folder), "--dataset", "demo", "--output-dir", str(tmp_path / "r")])
    assert out.exit_code == 1 and out.output.strip().splitlines() == [out.output.strip()], out.output
    assert "expected a JSON object" in out.output

    card = tmp_path / "card.json"
    card.write_text(content)
    out = CliRunner().invoke(main, ["submit", "--model", "ssim", "--smoke", "--card", str(card), "--out", str(tmp_path / "s")])
    assert out.exit_code == 1 and "card.json: expected a JSON object" in out.output and len(out.output.strip().splitlines()) == 1

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "DOWNLOADS.json").write_text(content)
    with pytest.raises(DatasetError, match=r"DOWNLOADS\.json: expected a JSON object, got \w+; delete it"):
        download_dataset("nights", tmp_path / "data", progress=lambda line: None)


def test_a_trained_folder_card_missing_a_field_is_one_line(tmp_path):
    from model_zoo.trained_folder import CARD_FILE, read_card

    (tmp_path / CARD_FILE).write_text('{"base_model": "clip-vit-b16"}')
    with pytest.raises(ValueError, match=rf"{CARD_FILE}: field architecture is missing"):
        read_card(tmp_path)
