"""The IQA family: our wrapped score is the library's own, and 2AFC decisions follow LPIPS's scoring."""

import numpy as np
import pytest
import torch

from model_zoo import create_model, list_models
from model_zoo.iqa import PIQ_METRICS, PYIQA_METRICS, PYIQA_WEIGHTED_METRICS, library_score

pytest.importorskip("pyiqa")  # the test extra installs `perceptbench[iqa]`

IQA = list_models("iqa-*")
SPECS = {**PIQ_METRICS, **PYIQA_METRICS, **PYIQA_WEIGHTED_METRICS}


def _images(side: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    reference = torch.rand(2, 3, side, side, generator=generator)
    return reference, (reference + 0.1 * torch.randn(2, 3, side, side, generator=generator)).clamp(0, 1)


def test_the_family_is_registered_with_literal_names():
    assert len(IQA) == len(SPECS) >= 23 and set(IQA) == set(SPECS)


@pytest.mark.parametrize("name", [n for n in IQA if n in PIQ_METRICS or n in PYIQA_METRICS])
def test_our_score_is_the_library_call(name):
    """sim maps the library's own score (reference first, as the 2AFC task passes it) to 1e-5."""
    model = create_model(name, pretrained=False)
    reference, distorted = _images(max(64, SPECS[name].min_size))
    with torch.no_grad():
        ours = model.sim(reference, distorted)
        theirs = library_score(name, distorted, reference).to(ours.dtype)
    expected = 1.0 - theirs if model.lower_better else theirs
    if SPECS[name].score_max is not None:
        expected = expected.clamp(max=SPECS[name].score_max)
    assert torch.allclose(ours, expected, atol=1e-5, rtol=1e-5), f"{name}: {ours.tolist()} vs {expected.tolist()}"


class _Loader:
    """The shape of LPIPS's data loader that `score_2afc_dataset` iterates."""

    def __init__(self, batches):
        self.batches = batches

    def load_data(self):
        return iter(self.batches)


@pytest.mark.parametrize("name", ["iqa-gmsd", "iqa-psnr", "iqa-nlpd"])
def test_2afc_decisions_equal_lpips_score_2afc_dataset(name, tmp_path):
    """On a BAPPS-format fixture read by our loader: our 2AFC task's score equals lpips.trainer's."""
    import torch.nn.functional as F
    from lpips.trainer import score_2afc_dataset
    from paper_data import write_bapps_split

    from benchmark.datasets.bapps import read_bapps_split
    from benchmark.datasets.images import load_image

    model = create_model(name, pretrained=False)
    judges = [0.0, 1.0, 0.25, 0.8, 0.5]
    triplets = read_bapps_split(write_bapps_split(tmp_path, "traditional", judges))

    def images(field: str) -> torch.Tensor:
        return F.interpolate(torch.stack([load_image(getattr(t, field)) for t in triplets]), size=64, mode="bilinear")

    batch = {
        "ref": images("reference"),
        "p0": images("candidate_0"),
        "p1": images("candidate_1"),
        "judge": torch.tensor([t.judge for t in triplets]),
    }
    with torch.no_grad():
        logits = model.compare(batch["ref"], [model.features(batch["p0"]), model.features(batch["p1"])])
    judge = batch["judge"]
    ours = (
        (logits[:, 0] > logits[:, 1]) * (1 - judge) + (logits[:, 1] > logits[:, 0]) * judge + (logits[:, 0] == logits[:, 1]) * 0.5
    ).mean()
    theirs, _ = score_2afc_dataset(_Loader([batch]), lambda a, b: -model.sim(a, b))  # a distance: -sim (sqrt(1 - sim) saturates for PSNR)
    assert float(ours) == pytest.approx(float(theirs), abs=1e-6)
    assert np.isfinite(theirs)


def test_a_weighted_metric_fails_offline_in_one_line(monkeypatch, tmp_path):
    from model_zoo import WeightsUnavailableError

    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as error:
        create_model("iqa-dists")
    assert "\n" not in str(error.value) and "vgg16-397923af.pth" in str(error.value)  # its torchvision trunk, first, through our cache
