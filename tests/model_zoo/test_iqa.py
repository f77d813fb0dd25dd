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
    if SPECS[name].score_max is not None:
        theirs = theirs.clamp(max=SPECS[name].score_max)
    if SPECS[name].from_db:
        expected = 1.0 - 10.0 ** (-theirs / 10.0)
    else:
        expected = 1.0 - theirs if model.lower_better else theirs
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


@pytest.mark.parametrize("name", ["iqa-psnr", "iqa-psnr-y"])
def test_psnr_maps_to_one_minus_mse_so_distance_is_the_rmse(name):
    """1 - 10^(-PSNR/10) = 1 - MSE on [0, 1] images (piq/pyiqa add 1e-8 to the MSE): sim in [0, 1], distance = RMSE."""
    model = create_model(name)
    reference, distorted = _images(64)
    if name == "iqa-psnr-y":
        luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        reference, distorted = (
            (reference * luma).sum(1, keepdim=True).expand(-1, 3, -1, -1),
            (distorted * luma).sum(1, keepdim=True).expand(-1, 3, -1, -1),
        )
    mse = ((reference - distorted) ** 2).mean(dim=(1, 2, 3))
    with torch.no_grad():
        assert torch.allclose(model.sim(reference, distorted), 1 - mse, atol=1e-5)
        assert torch.allclose(model.distance(reference, distorted), mse.sqrt(), atol=1e-4)
        assert torch.allclose(model.sim(reference, reference), torch.ones(2), atol=1e-6)


LEARNED = ["iqa-pieapp", "iqa-wadiqam-fr", "iqa-ckdn", "iqa-topiq-fr", "iqa-topiq-fr-pipal", "iqa-ahiq"]


def test_only_learned_heads_disclaim_that_identity_scores_best():
    assert sorted(n for n in IQA if not SPECS[n].identity_is_best) == sorted(LEARNED)


def test_random_builds_download_nothing(monkeypatch):
    """CKDN's ResNet50 (torch.hub, imported into its module) and TOPIQ's timm trunk are built without a download."""
    import pyiqa.archs.ckdn_arch
    import timm.models._builder
    import torch.hub

    def refuse(*args, **kwargs):
        raise AssertionError(f"a random-weight build tried to download {args[:1]}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(pyiqa.archs.ckdn_arch, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_hf", refuse)
    for name in ["iqa-ckdn", "iqa-topiq-fr"]:
        model = create_model(name, pretrained=False)
        assert model.weights_kind == "random" and not model.identity_is_best


@pytest.mark.parametrize(("name", "first_file"), [("iqa-ckdn", "resnet50-19c8e357.pth"), ("iqa-topiq-fr", "model.safetensors")])
def test_learned_metrics_load_their_trunks_through_our_cache(name, first_file, monkeypatch, tmp_path):
    from model_zoo import WeightsUnavailableError

    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as error:
        create_model(name)
    assert "\n" not in str(error.value) and first_file in str(error.value)


def test_a_pattern_leaves_out_metrics_whose_weights_are_not_here(monkeypatch, capsys):
    from benchmark.cli.common import expand_model_patterns

    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTBENCH_CACHE", "/nonexistent-perceptbench-cache")
    offline = expand_model_patterns(["iqa-*"])
    assert "iqa-psnr" in offline and "iqa-topiq-fr" not in offline
    assert "leaves out" in capsys.readouterr().err
    assert "iqa-topiq-fr" in expand_model_patterns(["iqa-*"], pretrained=False)
    assert expand_model_patterns(["iqa-topiq-fr"]) == ["iqa-topiq-fr"]  # named explicitly: kept, its own error explains
    with pytest.raises(ValueError, match="no match has its weights here"):
        expand_model_patterns(["iqa-topiq-fr*"])
