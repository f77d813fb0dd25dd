"""Zero-shot classification on ImageNet-format and ImageFolder fixtures, with tiny random-weight CLIPs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from benchmark.datasets import DatasetError, load_dataset
from benchmark.runner import EvaluationConfig, run_evaluation

WNIDS = ("n01440764", "n01443537", "n01484850")  # tench, goldfish, great white shark


def _write_images(folder, n, rng, size=(40, 52)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"ILSVRC2012_val_{i:08d}.JPEG", format="JPEG")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for wnid, n in zip(WNIDS, (2, 3, 2)):
        _write_images(root / "imagenet" / "val" / wnid, n, rng)
    for name in ("golden_retriever", "tabby_cat"):
        _write_images(root / "pets" / name, 2, rng, size=(30, 30))
    (root / "pets" / "classnames.txt").write_text("tabby_cat\ttabby cat\n")
    return root


def test_imagenet_folder_loads_with_clip_class_names_in_round_robin_order(data_root):
    dataset = load_dataset("imagenet", data_root)
    assert dataset.classnames == ["tench", "goldfish", "great white shark"]
    assert len(dataset) == 7
    assert [int(dataset[i]["label"]) for i in range(4)] == [0, 1, 2, 0]
    assert dataset[0]["image"].shape == (3, 224, 224)
    assert len(dataset.templates) == 80 and dataset.templates[0] == "a bad photo of a {}."  # OpenAI's, from open_clip
    assert len(load_dataset("imagenet", data_root, templates="simple").templates) == 1


def test_imagefolder_names_from_folders_and_classnames_file(data_root):
    dataset = load_dataset("imagefolder", data_root, path=str(data_root / "pets"))
    assert dataset.classnames == ["golden retriever", "tabby cat"]
    with pytest.raises(DatasetError, match="path=DIR"):
        load_dataset("imagefolder", data_root)


def test_non_imagenet_folders_are_refused_with_the_fix(tmp_path):
    _write_images(tmp_path / "imagenet" / "val" / "dogs", 1, np.random.default_rng(1))
    with pytest.raises(DatasetError, match="imagefolder"):
        load_dataset("imagenet", tmp_path)


@pytest.mark.parametrize("dataset,options", [("imagenet", {}), ("imagefolder", {"templates": "simple"})])
def test_zero_shot_classification_clean_and_robust(data_root, tmp_path, dataset, options):
    if dataset == "imagefolder":
        options = {**options, "path": str(data_root / "pets")}
    config = EvaluationConfig(
        model="r-clip-t-vit-b32",
        dataset=dataset,
        data_root=str(data_root),
        threat="linf",
        eps="4/255",
        n_iter=4,
        batch_size=4,
        pretrained=False,
        model_kwargs={"reduced": True},
        dataset_options=options,
    )
    result, path = run_evaluation(config, tmp_path, progress=False)
    assert result.task == "classification" and result.weights == "random"
    n = 7 if dataset == "imagenet" else 4
    assert result.scores.n == n
    assert 0.0 <= result.scores.robust <= result.scores.clean <= 1.0
    assert json.loads(path.read_text())["scores"]["n"] == n


def test_models_without_text_tower_cannot_classify(data_root, tmp_path):
    config = EvaluationConfig(
        model="dino-vit-b16", dataset="imagenet", data_root=str(data_root), attack="none", pretrained=False, model_kwargs={"reduced": True}
    )
    with pytest.raises(ValueError, match="has no text tower"):
        run_evaluation(config, tmp_path, progress=False)


def test_bench_data_verify_imagenet_names_missing_class_folders(data_root):
    from click.testing import CliRunner

    from benchmark.cli.bench import main

    result = CliRunner().invoke(main, ["data", "verify", "imagenet", "--data-root", str(data_root)])
    assert result.exit_code == 1
    assert "997 of the 1000 WordNet-id folders are missing" in result.output
