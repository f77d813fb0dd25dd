"""Loaders of the paper's datasets, on fixtures written in the real on-disk formats."""

import pickle

import numpy as np
import pytest
import torch
from paper_data import write_bapps_split, write_detection, write_nights, write_png, write_revisited, write_things

from benchmark.datasets import DatasetError, load_dataset
from benchmark.sampling import select_positions
from model_zoo import create_model
from model_zoo.preprocess import DEFAULT_PREPROCESSING


def _nights_rows():
    return [
        dict(left_vote=2, right_vote=4, votes=6, split="test", is_imagenet="True"),
        dict(left_vote=5, right_vote=1, votes=6, split="test", is_imagenet="False"),
        dict(left_vote=3, right_vote=2, votes=5, split="test", is_imagenet="True"),  # too few votes
        dict(left_vote=1, right_vote=6, votes=7, split="val", is_imagenet="False"),
        dict(left_vote=3, right_vote=4, votes=7, split="test", is_imagenet="False"),
    ]


def test_nights_reads_columns_by_name_keeps_six_votes_and_splits(tmp_path):
    write_nights(tmp_path, _nights_rows())
    test = load_dataset("nights", tmp_path)  # default split: test
    assert [t.sample_id for t in test.triplets] == ["0", "1", "4"]
    assert [t.judge for t in test.triplets] == [1.0, 0.0, 1.0]  # right preferred when right_vote > left_vote
    assert [t.sample_id for t in load_dataset("nights", tmp_path, "test_imagenet").triplets] == ["0"]
    assert [t.sample_id for t in load_dataset("nights", tmp_path, "test_no_imagenet").triplets] == ["1", "4"]
    assert [t.sample_id for t in load_dataset("nights", tmp_path, "val").triplets] == ["3"]
    item = test[0]
    assert item["reference"].shape == (3, 32, 32) and item["judge"] == 1.0  # the files' size until a model's transform is set
    assert test.follows_model_preprocessing and test.protocol()["labels"] == "hard"
    assert test.triplets[0].candidate_1.name == "000_1.png"


def test_nights_malformed_csv_names_the_file(tmp_path):
    nights = write_nights(tmp_path, _nights_rows())
    text = (nights / "data.csv").read_text().replace("right_vote", "rightvote", 1)
    (nights / "data.csv").write_text(text)
    with pytest.raises(DatasetError, match=r"data\.csv lacks column\(s\) right_vote"):
        load_dataset("nights", tmp_path)
    rows = _nights_rows()
    rows[0]["votes"] = "six"
    write_nights(tmp_path / "b", rows)
    with pytest.raises(DatasetError, match=r"data\.csv line 2: votes"):
        load_dataset("nights", tmp_path / "b")
    (tmp_path / "b" / "nights" / "ref" / "000" / "001.png").unlink()
    rows[0]["votes"] = 6
    write_nights(tmp_path / "c", rows)
    (tmp_path / "c" / "nights" / "distort" / "000" / "000_1.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot read image .*000_1.png"):
        load_dataset("nights", tmp_path / "c")[0]


def test_bapps_binary_labels_and_first_n_per_split(tmp_path):
    val = tmp_path / "bapps" / "2afc" / "val"
    from benchmark.datasets.bapps import BAPPS_VAL_SPLITS

    for n, split in enumerate(BAPPS_VAL_SPLITS):
        write_bapps_split(val, split, [0.2, 0.8, 0.6][: 1 + n % 3])
    hard = load_dataset("bapps", tmp_path)  # the paper's protocol by default
    assert hard.labels == "hard" and hard.score_averaging == "splits"
    assert [t.judge for t in hard.triplets[:3]] == pytest.approx([0.2, 0.2, 0.8])  # fractions kept; the task takes the majority
    assert hard[0]["reference"].shape == (3, 224, 224)  # upsampled before the attack (App. A-A)
    assert "Resize(224, bilinear)" in hard.protocol()["image_transform"]
    soft = load_dataset("bapps", tmp_path, labels="soft")
    assert soft.labels == "soft" and soft.task_options == {"labels": "soft"}
    native = load_dataset("bapps", tmp_path, image_size="native")
    assert native[0]["reference"].shape == (3, 16, 16)
    positions = select_positions(soft, n_ex_per_split=2)
    per_split = {}
    for p in positions:
        per_split[soft.sample_info(p)["split"]] = per_split.get(soft.sample_info(p)["split"], 0) + 1
    assert per_split == {"traditional": 1, "cnn": 2, "superres": 2, "deblur": 1, "color": 2, "frameinterp": 2}
    assert select_positions(soft, n_ex=3, n_ex_per_split=1) == [0, 1, 3]
    with pytest.raises(DatasetError, match="no option shuffle"):
        load_dataset("bapps", tmp_path, shuffle=True)
    with pytest.raises(DatasetError, match="unknown 2AFC labels 'binary' \\('binary' is now called 'hard'\\)"):
        load_dataset("bapps", tmp_path, labels="binary")
    with pytest.raises(DatasetError, match="image_size must be a whole number"):
        load_dataset("bapps", tmp_path, image_size="big")


def test_bapps_malformed_judge_names_the_file(tmp_path):
    val = tmp_path / "bapps" / "2afc" / "val"
    from benchmark.datasets.bapps import BAPPS_VAL_SPLITS

    for split in BAPPS_VAL_SPLITS:
        write_bapps_split(val, split, [0.4])
    np.save(val / "cnn" / "judge" / "000000.npy", np.array([1.7]))
    with pytest.raises(DatasetError, match=r"judge file .*cnn/judge/000000\.npy must hold one fraction"):
        load_dataset("bapps", tmp_path, "cnn")
    (val / "color" / "judge" / "000000.npy").unlink()
    with pytest.raises(DatasetError, match=r"missing .*color/judge/000000\.npy"):
        load_dataset("bapps", tmp_path, "color")


def test_things_triplets_and_image_list(tmp_path):
    write_things(tmp_path, 4, [(1, 2, 3, 3), (4, 1, 2, 1)])
    things = load_dataset("things", tmp_path)
    assert len(things) == 2 and [t.odd for t in things.triplets] == [2, 0]
    assert things.triplets[1].images[0].name == "concept_03_01b.jpg"
    item = things[1]
    assert item["image_0"].shape[0] == 3 and int(item["odd"]) == 0
    things.image_transform = create_model("clip-vit-b16", pretrained=False, reduced=True).input_preprocessing.image_transform()
    assert things[1]["image_0"].shape == (3, 64, 64)  # the model's transform, as the paper's code loads THINGS


@pytest.mark.parametrize(
    "triplet,message",
    [
        ((1, 2, 9, 1), r"line 2: image index out of 1\.\.4"),
        ((1, 2, 3, 4), r"line 2: choice must be 1, 2 or 3"),
    ],
)
def test_things_malformed_triplets_name_the_file_and_line(tmp_path, triplet, message):
    write_things(tmp_path, 4, [triplet])
    with pytest.raises(DatasetError, match=r"triplets_large_final_correctednc_correctedorder\.csv " + message):
        load_dataset("things", tmp_path)


RED, YELLOW, BLUE = (220, 30, 30), (220, 220, 30), (30, 30, 220)


def test_detection_class_folders_buffer_and_targets(tmp_path):
    write_detection(
        tmp_path / "detect" / "nsfw",
        {
            "pool": {"neutral": [RED] * 2, "porn": [BLUE] * 2, "sexy": [YELLOW]},
            "query": {"neutral": [RED] * 3, "porn": [BLUE]},
            "target": {"neutral": [RED], "porn": [BLUE] * 2},
        },
        manifest={"buffer": "sexy", "targets": {"neutral": "porn", "porn": "neutral"}},
    )
    detect = load_dataset("detect", tmp_path)
    assert detect.classes == ["neutral", "porn", "sexy"] and detect.setup.buffer == "sexy"
    assert len(detect) == 4 and detect.sample_info(3)["split"] == "nsfw-porn-query" and int(detect[3]["label"]) == 1
    assert len(detect.pool_items()) == 5 and len(detect.target_images("porn")) == 2
    assert detect.follows_model_preprocessing and detect[0]["image"].shape[0] == 3


def test_detection_without_manifest_pairs_two_classes_and_errors_name_the_folder(tmp_path):
    root = write_detection(tmp_path / "detect" / "guns", {"pool": {"safe": [RED], "unsafe": [BLUE]}, "query": {"unsafe": [BLUE]}})
    detect = load_dataset("detect", tmp_path, "guns")
    assert detect.setup.targets == {"safe": "unsafe", "unsafe": "safe"} and detect.setup.buffer is None
    with pytest.raises(DatasetError, match=r"missing .*guns/target/safe"):
        detect.target_images("safe")
    write_png(root / "query" / "other" / "x.png", seed=1)
    with pytest.raises(DatasetError, match=r"query class\(es\) other .* have no pool folder"):
        load_dataset("detect", tmp_path, "guns")
    (root / "query" / "other" / "x.png").unlink()
    with pytest.raises(DatasetError, match=r"class folder .*query/other holds no images"):
        load_dataset("detect", tmp_path, "guns")


def _revisited(tmp_path, **overrides):
    imlist = ["db_a", "db_b", "db_c"]
    gnd = [{"easy": [0], "hard": [2], "junk": [1], "bbx": [5.0, 10.0, 25.0, 30.0]}]
    colours = {"db_a": RED, "db_b": YELLOW, "db_c": BLUE, "q_1": RED}
    return write_revisited(tmp_path, "roxford5k", overrides.get("imlist", imlist), ["q_1"], overrides.get("gnd", gnd), colours)


def test_revisited_ground_truth_pickle_and_query_crop(tmp_path):
    _revisited(tmp_path)
    oxford = load_dataset("roxford5k", tmp_path)
    truth = oxford.ground_truth[0]
    assert (truth.easy, truth.hard, truth.junk, truth.bbx) == ((0,), (2,), (1,), (5.0, 10.0, 25.0, 30.0))
    assert oxford.imlist == ["db_a", "db_b", "db_c"] and len(oxford) == 1
    assert oxford[0]["image"].shape == (3, 20, 20)  # the query cropped to its box (x 5..25, y 10..30)
    oxford.image_transform = DEFAULT_PREPROCESSING.image_transform()
    assert oxford[0]["image"].shape == (3, 224, 224) and oxford.database_image(2).shape == (3, 224, 224)


def test_query_box_is_cropped_before_the_models_transform(tmp_path):
    from benchmark.datasets.images import load_image

    image = np.zeros((40, 40, 3), dtype=np.uint8)
    image[10:30, 5:25] = 255  # exactly the box
    path = tmp_path / "query.png"
    from PIL import Image

    Image.fromarray(image).save(path)
    loaded = load_image(path, DEFAULT_PREPROCESSING.at_input_size(8).image_transform(), box=(5.0, 10.0, 25.0, 30.0))
    assert torch.allclose(loaded, torch.ones(3, 8, 8))


def test_revisited_malformed_ground_truth_names_the_file(tmp_path):
    folder = _revisited(tmp_path, gnd=[{"easy": [0], "hard": [7], "junk": [], "bbx": [0, 0, 1, 1]}])
    with pytest.raises(DatasetError, match=r"gnd_roxford5k\.pkl: gnd\[0\] names image index 7"):
        load_dataset("roxford5k", tmp_path)
    with (folder / "gnd_roxford5k.pkl").open("wb") as handle:
        pickle.dump({"imlist": [], "qimlist": []}, handle)
    with pytest.raises(DatasetError, match=r"gnd_roxford5k\.pkl must be a dict with 'imlist', 'qimlist' and 'gnd'"):
        load_dataset("roxford5k", tmp_path)
    with (folder / "gnd_roxford5k.pkl").open("wb") as handle:
        pickle.dump({"imlist": [], "qimlist": [], "gnd": [], "evil": print}, handle)
    with pytest.raises(DatasetError, match=r"cannot read ground-truth pickle .*refusing to load builtins.print"):
        load_dataset("roxford5k", tmp_path)
