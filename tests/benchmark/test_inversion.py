"""Feature and text inversion on tiny random-weight CLIP towers."""

from __future__ import annotations

import pytest
import torch

from attacks.apgd import ObjectiveOutput, apgd
from attacks.inversion import InversionConfig, invert, noisy_grey_start
from model_zoo import create_model

TINY = InversionConfig(n_iter=12, image_size=32)


def test_apgd_initial_step_size_sets_the_first_step():
    """A linear loss: the first L2 step moves the centre by exactly the initial step size."""
    direction = torch.randn(1, 3, 8, 8)

    def objective(x, index):
        return ObjectiveOutput(loss=(x * direction).flatten(1).sum(dim=1))

    x = torch.full((1, 3, 8, 8), 0.5)
    moved = []
    for step in (0.05, 0.2):
        result = apgd(objective, x, norm="l2", eps=100.0, n_iter=1, random_init=False, early_stop=False, initial_step_size=step)
        moved.append(float((result.x_adv - x).norm()))
    assert moved == pytest.approx([0.05, 0.2], rel=1e-4)
    with pytest.raises(ValueError, match="initial_step_size"):
        apgd(objective, x, norm="l2", eps=1.0, n_iter=1, initial_step_size=0.0)


def test_noisy_grey_start_is_grey_within_the_noise_and_seeded():
    start = noisy_grey_start(2, 16, seeds=[3, 4])
    assert start.shape == (2, 3, 16, 16)
    assert (start - 0.5).abs().max() <= 8 / 255 + 1e-6
    assert torch.equal(start[0], noisy_grey_start(1, 16, seeds=[3])[0])
    assert not torch.equal(start[0], start[1])


def test_feature_inversion_improves_the_objective(seeded):
    model = create_model("r-clip-f-vit-b32", pretrained=False, reduced=True)
    targets = model.features(torch.rand(2, 3, 32, 32))
    out = invert(model.embed, targets, seeds=[0, 1], config=TINY)
    assert out.images.shape == (2, 3, 32, 32)
    assert 0.0 <= float(out.images.min()) and float(out.images.max()) <= 1.0
    assert len(out.history) == TINY.n_iter + 1
    assert min(out.history) < out.history[0]
    start = noisy_grey_start(2, 32, seeds=[0, 1])
    start_similarity = (model.features(start) * targets).sum(dim=-1)
    assert torch.all(out.similarity >= start_similarity - 1e-5)
    assert torch.allclose(out.similarity, (model.features(out.images) * targets).sum(dim=-1), atol=1e-4)
    assert torch.all((out.images - start).flatten(1).norm(dim=1) <= TINY.radius + 1e-3)


def _cli(args):
    from click.testing import CliRunner

    from benchmark.cli.bench import main

    return CliRunner().invoke(main, args, catch_exceptions=False)


TINY_CLI = ["--n-iter", "6", "--image-size", "32", "--random-weights", "--model-kwarg", "reduced=true", "--quiet"]


def test_bench_invert_features_writes_pngs_grid_and_json(tmp_path):
    import json

    from PIL import Image

    from benchmark.datasets.images import save_image

    images = []
    for i in range(2):
        path = tmp_path / f"photo{i}.png"
        save_image(torch.rand(3, 40, 48), path)
        images += ["--image", str(path)]
    out = tmp_path / "out"
    result = _cli(
        [
            "invert",
            "features",
            "--model",
            "r-clip-f-convnext,clip-vit-b32",
            *images,
            "--seeds",
            "0,1",
            "--batch-size",
            "3",
            "--output-dir",
            str(out),
            *TINY_CLI,
        ]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "inversion.json").read_text())
    assert report["weights"] == "random" and "not a real result" in report["note"]
    assert len(report["images"]) == 2 * 2 * 2  # models x images x seeds
    for record in report["images"]:
        assert Image.open(out / record["file"]).size == (32, 32)
        assert record["similarity"] >= record["start_similarity"] - 1e-4
    grid = Image.open(out / report["grid"])
    assert grid.size[0] > 4 * 160 and grid.size[1] > 3 * 160  # 4 columns; originals + 2 model rows


def test_bench_invert_text_needs_a_clip_model(tmp_path):
    out = tmp_path / "out"
    result = _cli(
        [
            "invert",
            "text",
            "--model",
            "clip-vit-b16",
            "--prompt",
            "an astronaut riding a horse",
            "--prompt",
            "an octopus playing chess",
            "--output-dir",
            str(out),
            *TINY_CLI,
        ]
    )
    assert result.exit_code == 0, result.output
    assert len(list((out / "clip-vit-b16").glob("*.png"))) == 2 and (out / "grid.png").is_file()

    refused = _cli(["invert", "text", "--model", "dino-vit-b16", "--prompt", "a cat", "--output-dir", str(out), *TINY_CLI])
    assert refused.exit_code != 0 and "has no text tower" in refused.output and "Traceback" not in refused.output


def test_bench_invert_refuses_bad_input_with_the_fix(tmp_path):
    from benchmark.datasets.images import save_image

    path = tmp_path / "photo.png"
    save_image(torch.rand(3, 16, 16), path)
    no_kwarg = [arg for arg in TINY_CLI if arg not in ("--model-kwarg", "reduced=true")]  # ssim has no `reduced`, refused first
    pairwise = _cli(["invert", "features", "--model", "ssim", "--image", str(path), "--output-dir", str(tmp_path / "o"), *no_kwarg])
    assert pairwise.exit_code != 0 and "pairwise metric" in pairwise.output
    typed = _cli(["invert", "features", "--model", "ssim", "--image", str(path), "--output-dir", str(tmp_path / "o"), *TINY_CLI])
    assert typed.exit_code != 0 and "model 'ssim' has no option 'reduced'" in typed.output
    missing = _cli(["invert", "features", "--model", "clip-vit-b32", "--image", str(tmp_path / "nope.png"), *TINY_CLI])
    assert missing.exit_code != 0 and "nope.png" in missing.output
    seeds = _cli(["invert", "features", "--model", "clip-vit-b32", "--image", str(path), "--seeds", "a,b", *TINY_CLI])
    assert seeds.exit_code != 0 and "--seeds" in seeds.output
