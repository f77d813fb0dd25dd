"""Zero-shot classification under the attacks of Table XI (apgd-ce-t) and AutoAttack's standard (APGD-T member),
end to end through the runner, on a 4-class ImageFolder fixture and a tiny random-weight CLIP."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmark.runner import EvaluationConfig, run_evaluation


@pytest.fixture(scope="module")
def four_classes(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for name in ("cat", "dog", "bird", "fish"):
        (root / "pets" / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(root / "pets" / name / f"{i}.png")
    return root


@pytest.mark.parametrize("attack,members", [("apgd-ce-t", ["apgd-ce", "apgd-t"]), ("standard", ["apgd-ce", "apgd-t", "square"])])
def test_zero_shot_runs_apgd_t_members(four_classes, tmp_path, attack, members):
    config = EvaluationConfig(
        model="r-clip-t-vit-b32",
        dataset="imagefolder",
        data_root=str(four_classes),
        threat="linf",
        eps="4/255",
        n_iter=3,
        square_queries=5,
        attack=attack,
        pretrained=False,
        model_kwargs={"reduced": True},
        dataset_options={"path": str(four_classes / "pets")},
    )
    result, path = run_evaluation(config, tmp_path, progress=False)
    assert 0.0 <= result.scores.robust <= result.scores.clean <= 1.0
    if attack == "standard":
        assert [m.name for m in result.ensemble.members] == members
