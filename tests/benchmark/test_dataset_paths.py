"""Paths a dataset's own files name (a csv, an image list, a ground-truth pickle, detection.json) stay inside its folder.

BAPPS, ImageNet and detection pools list their folders instead of reading paths from a file, so
only the loaders below read paths from text; `imagefolder` reads the folder its user names.
"""

import json
import pickle

import pytest
from paper_data import write_detection, write_nights, write_revisited, write_things

from benchmark.datasets import DatasetError, load_dataset

OUTSIDE = ["../../../../etc/passwd", "/etc/passwd", "jpg/../../../outside"]
RED, BLUE = (200, 30, 30), (30, 30, 200)


def _nights(root, bad):
    write_nights(root, [dict(left_vote=1, right_vote=5, votes=6, split="test", is_imagenet="True")])
    csv = root / "nights" / "data.csv"
    csv.write_text(csv.read_text().replace("ref/000/000.png", bad))
    return "nights", {}


def _things(root, bad):
    things = write_things(root, 3, [(1, 2, 3, 1)])
    listing = things / "things_first_imgs_idx.txt"
    listing.write_text(bad + "\n" + listing.read_text())
    return "things", {}


def _revisited(root, bad, field):
    folder = write_revisited(
        root, "roxford5k", ["a", "b"], ["q"], [{"easy": [0], "hard": [], "junk": [], "bbx": [0, 0, 8, 8]}], {"a": RED, "b": BLUE, "q": RED}
    )
    gnd = folder / "gnd_roxford5k.pkl"
    data = pickle.loads(gnd.read_bytes())
    data[field][0] = bad
    gnd.write_bytes(pickle.dumps(data))
    return "roxford5k", {}


def _detection(root, bad, key):
    layout = {"pool": {"a": [RED], "b": [BLUE]}, "query": {"a": [RED]}}
    write_detection(root / "detect" / "nsfw", layout, {"buffer": bad} if key == "buffer" else {"targets": {"a": bad}})
    return "detect", {}


LOADERS = {
    "nights csv": _nights,
    "things image list": _things,
    "revisited imlist": lambda root, bad: _revisited(root, bad, "imlist"),
    "revisited qimlist": lambda root, bad: _revisited(root, bad, "qimlist"),
    "detection buffer": lambda root, bad: _detection(root, bad, "buffer"),
    "detection target": lambda root, bad: _detection(root, bad, "targets"),
}


@pytest.mark.parametrize("bad", OUTSIDE)
@pytest.mark.parametrize("loader", LOADERS)
def test_a_path_leaving_the_dataset_folder_is_refused_at_load(tmp_path, loader, bad):
    name, options = LOADERS[loader](tmp_path, bad)
    with pytest.raises(DatasetError) as error:
        load_dataset(name, tmp_path, **options)
    message = str(error.value)
    assert bad in message or bad.rsplit("/", 1)[-1] in message, message
    assert "outside the dataset folder" in message or "pool" in message, message


def test_detection_json_is_read_as_data_only(tmp_path):
    write_detection(tmp_path / "detect" / "nsfw", {"pool": {"a": [RED], "b": [BLUE]}, "query": {"a": [RED]}})
    (tmp_path / "detect" / "nsfw" / "detection.json").write_text(json.dumps({"buffer": "a", "path": "/etc"}))
    with pytest.raises(DatasetError, match="optional keys 'buffer' and 'targets'"):
        load_dataset("detect", tmp_path)
