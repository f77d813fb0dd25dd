"""Tables IV and VII end to end on fixture folders with tiny random-weight models; the LAION head's format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from attacks.inversion import InversionConfig
from benchmark.cli.bench import main
from benchmark.paper.experiments import compact_column_names
from benchmark.paper.inversion_table import run_inversion_table
from benchmark.paper.nsfw_table import NSFWTableConfig, combine_or, detection_scores, run_nsfw_table
from model_zoo import create_model
from model_zoo.laion_nsfw import LaionNSFWHead, load_laion_head

REDUCED = {"reduced": True}


def _images(folder, n, rng, size=24):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    nsfw = root / "detect" / "nsfw"
    for part, counts in (
        ("pool", {"neutral": 3, "porn": 3, "sexy": 2}),
        ("query", {"neutral": 3, "porn": 2}),
        ("target", {"neutral": 2, "porn": 2}),
    ):
        for name, n in counts.items():
            _images(nsfw / part / name, n, rng)
    (nsfw / "detection.json").write_text(json.dumps({"buffer": "sexy"}))
    _images(root / "coco_inversion", 2, rng, size=40)
    return root


def test_laion_head_reads_the_published_state_dict_layout(tmp_path, seeded):
    """LAION's .pth: norm.mean/variance and linear_1..4 (768-64-512-256-1), sigmoid output."""
    published = {"norm.mean": torch.randn(768) * 0.01, "norm.variance": torch.rand(768) + 0.5}
    for i, (a, b) in enumerate(((768, 64), (64, 512), (512, 256), (256, 1)), start=1):
        published[f"linear_{i}.weight"], published[f"linear_{i}.bias"] = torch.randn(b, a) * 0.05, torch.randn(b) * 0.05
    torch.save(published, tmp_path / "clip_ViT-L-14_openai_binary_nsfw_head.pth")
    head = LaionNSFWHead()
    load_laion_head(head, tmp_path / "clip_ViT-L-14_openai_binary_nsfw_head.pth")
    x = torch.nn.functional.normalize(torch.randn(3, 768), dim=-1)
    h = (x - published["norm.mean"]) / (published["norm.variance"].sqrt() + 1e-10)
    for i in range(1, 4):
        h = torch.relu(h @ published[f"linear_{i}.weight"].T + published[f"linear_{i}.bias"])
    expected = torch.sigmoid(h @ published["linear_4.weight"].T + published["linear_4.bias"])[:, 0]
    assert torch.allclose(head(x), expected, atol=1e-6)

    torch.save({"linear_1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="other.pth"):
        load_laion_head(LaionNSFWHead(), tmp_path / "other.pth")


def test_laion_detector_gives_probabilities_and_embeddings():
    detector = create_model("laion-nsfw-detector", pretrained=False, **REDUCED)
    x = torch.rand(2, 3, 64, 64)
    p = detector.nsfw_probability(x)
    assert p.shape == (2,) and bool(((p >= 0) & (p <= 1)).all())
    assert detector.embed(x).shape == (2, 32)


def test_or_combination_and_scores():
    a = {
        "q1": {"query_class": "neutral", "clean_unsafe": False, "robust_unsafe": True},
        "q2": {"query_class": "porn", "clean_unsafe": True, "robust_unsafe": False},
    }
    b = {
        "q1": {"query_class": "neutral", "clean_unsafe": False, "robust_unsafe": False},
        "q2": {"query_class": "porn", "clean_unsafe": False, "robust_unsafe": True},
    }
    combined = combine_or(a, b)
    assert combined["q2"]["robust_unsafe"] and combined["q1"]["robust_unsafe"] and not combined["q1"]["clean_unsafe"]
    scores = detection_scores(combined, "neutral", "porn")
    assert scores == {"n_neutral": 1, "clean_neutral": 1.0, "robust_neutral": 0.0, "n_porn": 1, "clean_porn": 1.0, "robust_porn": 1.0}
    assert "whitebox_neutral" not in scores  # only the detector is attacked white-box


def test_table4_runs_every_row_on_a_detect_folder(data_root, tmp_path):
    config = NSFWTableConfig(
        retrieval_models=["clip-convnext", "r-clip-f-convnext"],
        n_iter=3,
        batch_size="auto",  # resolved per model, as `bench reproduce table4 --batch-size auto` does
        pretrained=False,
        data_root=str(data_root),
        model_kwargs=REDUCED,
    )
    rows, path = run_nsfw_table(config, tmp_path, progress=False)
    assert list(rows) == ["laion-nsfw-detector", "clip-convnext", "r-clip-f-convnext", "laion-nsfw-detector-or-r-clip-f-convnext"]
    for row in rows.values():
        assert row["n_neutral"] == 3 and row["n_porn"] == 2 and row["weights"] == "random"
    assert {"whitebox_neutral", "whitebox_porn"} <= set(rows["laion-nsfw-detector"])
    assert "whitebox_porn" not in rows["clip-convnext"]
    report = json.loads(path.read_text())
    samples = report["samples"]
    for key, record in samples["laion-nsfw-detector-or-r-clip-f-convnext"].items():
        assert record["robust_unsafe"] == (
            samples["laion-nsfw-detector"][key]["robust_unsafe"] or samples["r-clip-f-convnext"][key]["robust_unsafe"]
        )
    assert "not a real result" in report["note"]


def test_table7_matrix_of_generators_and_judges(data_root, tmp_path):
    models = ["r-clip-f-convnext", "dino-vit-b16"]
    images = sorted((data_root / "coco_inversion").iterdir())
    matrix, path = run_inversion_table(
        models,
        images,
        tmp_path,
        InversionConfig(n_iter=5, image_size=32),
        pretrained=False,
        model_kwargs=REDUCED,
        batch_size="auto",  # resolved per generator and per judge
        progress=False,
    )
    assert set(matrix) == set(models) and all(set(row) == set(models) for row in matrix.values())
    assert all(-1.0 <= v <= 1.0 for row in matrix.values() for v in row.values())
    assert (tmp_path / "table7-inversions" / "grid.png").is_file()
    assert json.loads(path.read_text())["weights"] == "random"


def test_reproduce_table4_and_table7_show_the_paper_numbers():
    for table, expected in (("table4", "LAION-det ViT-L/14"), ("table7", "Generate w/ R-CLIPF"), ("table11", "R-CLIPT ConvNeXt-B")):
        result = CliRunner().invoke(main, ["reproduce", table, "--dry-run"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "reported in the paper" in result.output and expected in result.output


def test_compact_column_names_drop_shared_parts():
    assert compact_column_names(["detect|a-query|clean|s", "detect|b-query|linf 8/255|s"]) == ["a-query clean", "b-query linf 8/255"]
