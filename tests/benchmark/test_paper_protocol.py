"""The paper's evaluation protocol (App. A-A and its code): each test guards one detail that, done
differently, moves reproduced numbers by points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from paper_data import write_bapps_split
from PIL import Image
from torchvision import transforms as v1

import benchmark.tasks.base as task_base_module
from benchmark.datasets.bapps import BAPPS_VAL_SPLITS
from benchmark.runner import EvaluationConfig, run_evaluation
from benchmark.tasks import TwoAFCTask, twoafc_score
from model_zoo import get_model_card
from model_zoo.base import PairwiseModel
from model_zoo.clip import CLIP_CONVNEXT, CLIP_VIT_B16, OPEN_CLIP_SPECS
from model_zoo.preprocess import NIGHTS_FINETUNED_CLIP, ImagePreprocess


def _bapps(root, sizes: dict[str, list[float]]):
    for split, judges in sizes.items():
        write_bapps_split(root / "bapps" / "2afc" / "val", split, judges)


def test_bapps_is_attacked_at_224(tmp_path, monkeypatch):
    """App. A-A: BAPPS images are upsampled to 224x224 and perturbed there, not at 64x64."""
    _bapps(tmp_path, {split: [0.8, 0.2] for split in BAPPS_VAL_SPLITS})
    attacked_shapes = []
    real_run_attack = task_base_module.run_attack

    def spy(config, objective, x, sample_ids):
        attacked_shapes.append(tuple(x.shape[1:]))
        return real_run_attack(config, objective, x, sample_ids)

    monkeypatch.setattr(task_base_module, "run_attack", spy)  # every task attacks through BatchAttack
    config = EvaluationConfig(model="pixel-l2", dataset="bapps", data_root=str(tmp_path), split="cnn", n_iter=2)
    result, _ = run_evaluation(config, tmp_path / "results", progress=False)
    assert attacked_shapes and set(attacked_shapes) == {(3, 224, 224)}
    assert result.protocol["attacked_resolution"] == [224, 224]
    assert "Resize(224, bilinear)" in result.protocol["image_transform"]


def test_a_metric_fooled_everywhere_scores_exactly_zero_under_hard_labels():
    """Table XV reports 0.0-0.2 for clean models: only hard labels allow that; a soft score would give
    the minority vote."""
    judge = torch.tensor([0.6, 0.8, 1.0, 0.6])
    wrong = torch.zeros(4, dtype=torch.long)  # every human majority prefers candidate 1
    logits = torch.tensor([[0.9, 0.1]] * 4)
    assert twoafc_score(wrong, judge, logits, labels="hard").sum() == 0.0
    assert twoafc_score(wrong, judge, logits, labels="soft").tolist() == pytest.approx([0.4, 0.2, 0.0, 0.4])
    tied = torch.tensor([[0.5, 0.5]] * 4)
    assert twoafc_score(wrong, judge, tied, labels="soft").tolist() == pytest.approx([0.5] * 4)  # LPIPS/DreamSim tie rule

    batch = {
        "reference": torch.rand(4, 3, 8, 8),
        "candidate_0": torch.rand(4, 3, 8, 8),
        "candidate_1": torch.rand(4, 3, 8, 8),
        "judge": judge,
    }

    class PrefersFirst(PairwiseModel):
        def compare(self, x, candidates):
            return torch.stack([torch.ones(len(x)), torch.zeros(len(x))], dim=1) + 0.0 * x.flatten(1).sum(dim=1, keepdim=True)

    outcomes = TwoAFCTask(labels="hard").evaluate_batch(PrefersFirst(), batch, None, "cpu", [0, 1, 2, 3])
    assert [o.clean_score for o in outcomes] == [0.0] * 4


def test_bapps_headline_is_the_mean_of_split_means(tmp_path):
    """Table XIV: CLIP ViT-B/32's 69.1 is the mean of its six split scores, not a mean over samples."""
    judges = {
        "traditional": [0.9],
        "cnn": [0.9, 0.1, 0.1],
        "superres": [0.1, 0.9],
        "deblur": [0.9] * 4,
        "color": [0.1],
        "frameinterp": [0.9, 0.9],
    }
    _bapps(tmp_path, judges)
    config = EvaluationConfig(model="pixel-l2", dataset="bapps", data_root=str(tmp_path), attack="none")
    result, _ = run_evaluation(config, tmp_path / "results", progress=False)
    per_split = [result.scores.per_split[split].clean for split in judges]
    assert len({len(v) for v in judges.values()}) > 1, "splits of different sizes"
    assert result.scores.clean == pytest.approx(np.mean(per_split))
    sample_mean = sum(s.clean * s.n for s in result.scores.per_split.values()) / result.scores.n
    assert result.scores.clean != pytest.approx(sample_mean), "the test data should tell the two averages apart"
    assert result.protocol["score_averaging"] == "mean of the split means" and result.protocol["labels"] == "hard"


def _non_square_image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (300, 420, 3), dtype=np.uint8))


@pytest.mark.parametrize("spec", [CLIP_CONVNEXT, OPEN_CLIP_SPECS["r-clip-f-convnext"], OPEN_CLIP_SPECS["r-clip-t-convnext"]])
def test_zero_shot_convnext_preprocessing_is_resize_256_then_centre_crop_224(spec):
    """The paper's code keeps open_clip's Resize(256) for ConvNeXt-B and crops 224."""
    reference = v1.Compose([v1.Resize(256, interpolation=v1.InterpolationMode.BICUBIC), v1.CenterCrop(224)])
    image = _non_square_image()
    ours = spec.preprocessing.image_transform()
    assert np.array_equal(np.asarray(ours(image)), np.asarray(reference(image)))  # the data path: identical pixels
    tensor = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float()[None] / 255
    module = ImagePreprocess(spec.preprocessing)
    expected = (reference(tensor) - module.mean) / module.std
    assert torch.allclose(module(tensor), expected, atol=1e-5)  # the in-model path on a non-square tensor
    assert module(torch.rand(1, 3, 224, 224)).shape == (1, 3, 224, 224)  # at the input size: normalised only


def test_preprocessing_differs_per_model_as_the_paper_ran_it():
    image = _non_square_image()
    vit = CLIP_VIT_B16.preprocessing.image_transform()(image)
    lora = NIGHTS_FINETUNED_CLIP.image_transform()(image)
    assert vit.size == lora.size == (224, 224)
    squashed = v1.Resize((224, 224), interpolation=v1.InterpolationMode.BICUBIC)(image)
    assert np.array_equal(np.asarray(lora), np.asarray(squashed))  # +mlp/+lora: DreamSim's stretch to 224x224
    assert not np.array_equal(np.asarray(vit), np.asarray(squashed))  # zero-shot ViT: shorter side 224, centre crop
    cards = {
        name: get_model_card(name).preprocessing
        for name in ("clip-convnext", "r-clip-f-convnext+lora", "dino-vit-b16", "dreamsim-ensemble")
    }
    assert cards["clip-convnext"]["resize"] == 256 and cards["clip-convnext"]["crop"] == 224
    assert cards["r-clip-f-convnext+lora"]["resize"] == [224, 224] and cards["r-clip-f-convnext+lora"]["crop"] is None
    assert all("source" in card and card["description"] for card in cards.values())
