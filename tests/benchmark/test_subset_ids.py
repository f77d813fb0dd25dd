"""`--dataset-option subset_ids=FILE`: a fixed list of ImageNet val images in RobustBench's format, and Table XI's plan on it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchmark.datasets import DatasetError, load_dataset
from benchmark.datasets import subset_ids as subset_module
from benchmark.paper.reproduce import SEEDED_SUBSET_CHOICE, plan_table, table_choices
from benchmark.runner import NO_ATTACK, EvaluationConfig, run_evaluation

WNIDS = ("n01440764", "n01443537", "n01484850")
# RobustBench's format (helper_files/imagenet_test_image_ids.txt): `<wnid>/<filename>` a line, no newline after the last.
LISTED = ("n01484850/ILSVRC2012_val_00000001.JPEG", "n01440764/ILSVRC2012_val_00000000.JPEG", "n01484850/ILSVRC2012_val_00000000.JPEG")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for wnid in WNIDS:
        folder = root / "imagenet" / "val" / wnid
        folder.mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(folder / f"ILSVRC2012_val_{i:08d}.JPEG")
    return root


@pytest.fixture()
def id_list(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(LISTED))
    return path


def test_the_list_is_taken_in_its_order_with_labels_from_every_class_folder(data_root, id_list):
    dataset = load_dataset("imagenet", data_root, subset_ids=str(id_list))
    assert [dataset.sample_info(i)["sample_id"] for i in range(len(dataset))] == list(LISTED)
    assert [int(dataset[i]["label"]) for i in range(len(dataset))] == [2, 0, 2]  # index among all three folders
    assert dataset.classnames == ["tench", "goldfish", "great white shark"]
    protocol = dataset.protocol()
    sha = hashlib.sha256(id_list.read_bytes()).hexdigest()
    assert protocol["subset_ids_sha256"] == sha
    assert protocol["subset"]["sha256"] == sha and protocol["subset"]["count"] == 3
    assert protocol["subset"]["name"] == "user list ids.txt"
    assert load_dataset("imagenet", data_root).protocol() == {}


def test_robustbenchs_sha_names_robustvlms_subset(data_root, id_list, monkeypatch):
    monkeypatch.setattr(subset_module, "ROBUSTBENCH_IMAGENET_IDS_SHA256", hashlib.sha256(id_list.read_bytes()).hexdigest())
    name = load_dataset("imagenet", data_root, subset_ids=str(id_list)).protocol()["subset"]["name"]
    assert "RobustVLM" in name and "imagenet_test_image_ids.txt" in name


def test_ids_missing_from_the_data_root_are_one_line_with_count_and_first_few(data_root, tmp_path):
    path = tmp_path / "ids.txt"
    missing = [f"n01440764/ILSVRC2012_val_{i:08d}.JPEG" for i in range(10, 15)] + ["n09999999/x.JPEG"]
    path.write_text("\n".join([LISTED[0], *missing]))
    with pytest.raises(DatasetError) as error:
        load_dataset("imagenet", data_root, subset_ids=str(path))
    message = str(error.value)
    assert "\n" not in message and message.startswith("6 of the 7 ids in")
    assert "first: n01440764/ILSVRC2012_val_00000010.JPEG, n01440764/ILSVRC2012_val_00000011.JPEG" in message
    assert "ILSVRC2012_val_00000013" not in message


@pytest.mark.parametrize(
    "text,expected",
    [
        ("n01440764\n", "expected '<wnid>/<filename>'"),
        ("a/b/c.JPEG", "expected"),
        ("../x/y.JPEG", "expected"),
        (f"{LISTED[0]}\n{LISTED[0]}", "listed twice"),
    ],
)
def test_a_malformed_list_is_refused_naming_the_line(data_root, tmp_path, text, expected):
    path = tmp_path / "ids.txt"
    path.write_text(text)
    with pytest.raises(DatasetError, match=expected):
        load_dataset("imagenet", data_root, subset_ids=str(path))


def test_a_run_on_the_list_records_it(data_root, id_list, tmp_path):
    config = EvaluationConfig(
        model="clip-vit-b32",
        dataset="imagenet",
        data_root=str(data_root),
        attack="none",
        pretrained=False,
        model_kwargs={"reduced": True},
        dataset_options={"subset_ids": str(id_list)},
    )
    result, _ = run_evaluation(config, tmp_path, progress=False)
    assert result.scores.n == 3
    assert result.protocol["subset"]["count"] == 3
    assert result.protocol["subset_ids_sha256"] == hashlib.sha256(id_list.read_bytes()).hexdigest()


def test_table11_takes_the_list_for_its_robust_runs_only(id_list):
    planned = plan_table("table11", models=["clip-vit-b32"], dataset_options={"subset_ids": str(id_list)})
    clean = [p.config for p in planned if p.config.attack == NO_ATTACK]
    robust = [p.config for p in planned if p.config.attack != NO_ATTACK]
    assert [c.dataset_options for c in clean] == [{}] and [c.random_subset for c in clean] == [None]
    for c in robust:
        assert (c.attack, c.n_restarts, c.random_subset, c.dataset_options) == ("apgd-ce-t", 5, None, {"subset_ids": str(id_list)})
    assert "the 3 ids of ids.txt (a user list, not RobustBench's)" in next(p for p in planned if p.config.attack != NO_ATTACK).row()[7]
    assert SEEDED_SUBSET_CHOICE not in table_choices("table11", planned)


def test_without_the_list_the_plan_says_the_seeded_draw_is_not_robustvlms():
    choices = table_choices("table11", plan_table("table11", models=["clip-vit-b32"]))
    assert "NOT RobustVLM's list" in choices[SEEDED_SUBSET_CHOICE]
    assert "--dataset-option subset_ids=FILE" in choices[SEEDED_SUBSET_CHOICE]
    assert subset_module.ROBUSTBENCH_IMAGENET_IDS_URL in choices[SEEDED_SUBSET_CHOICE]


def test_fig7s_radii_are_a_recorded_choice():
    from benchmark.protocol_choices import PROTOCOL_CHOICES

    assert table_choices("fig7", plan_table("fig7", models=["pixel-l2"])) == {"fig7_eps_grid": PROTOCOL_CHOICES["fig7_eps_grid"]}


def test_reproduce_dry_run_shows_the_subset_and_refuses_it_elsewhere(id_list):
    from benchmark.cli.bench import main

    shown = CliRunner().invoke(
        main, ["reproduce", "table11", "--dry-run", "--models", "clip-vit-b32", "--dataset-option", f"subset_ids={id_list}"]
    )
    assert shown.exit_code == 0, shown.output
    assert shown.output.count("the 3 ids of ids.txt") == 2 and "NOT RobustVLM's list" not in shown.output
    seeded = CliRunner().invoke(main, ["reproduce", "table11", "--dry-run", "--models", "clip-vit-b32"])
    assert "5000 drawn with seed 0" in seeded.output and "NOT RobustVLM's list" in seeded.output
    refused = CliRunner().invoke(main, ["reproduce", "table1", "--dry-run", "--dataset-option", f"subset_ids={id_list}"])
    assert refused.exit_code != 0 and "no run of table1 takes --dataset-option subset_ids" in refused.output
