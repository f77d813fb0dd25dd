"""LPIPS at native resolution: `lpips-alex` on BAPPS with image_size=native and soft labels equals the
`lpips` package's LPIPS scored by LPIPS's own `score_2afc_dataset` (lpips.trainer), on shared random
weights (torchvision's AlexNet weights cannot be downloaded here). lpips-vgg and lpips-squeeze build
with the linear layers the package ships."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from paper_data import write_png
from PIL import Image
from torchvision import transforms

import benchmark.runner as runner
from benchmark.runner import EvaluationConfig, run_evaluation
from model_zoo import create_model
from model_zoo.lpips_models import LPIPSMetric, load_lpips_linear_layers, packaged_linear_weights

lpips = pytest.importorskip("lpips")
JUDGES = [0.0, 0.2, 0.5, 0.7, 1.0, 0.9, 0.4, 0.1, 0.6, 0.3]


def _write_native_bapps(root, split="cnn", size=64):
    """A BAPPS-format split (ref/ p0/ p1/ PNGs, judge/ .npy) at BAPPS's native 64x64."""
    folder = root / "bapps" / "2afc" / "val" / split
    for index, judge in enumerate(JUDGES):
        for n, sub in enumerate(("ref", "p0", "p1")):
            write_png(folder / sub / f"{index:06d}.png", seed=100 * index + n, size=size)
        (folder / "judge").mkdir(parents=True, exist_ok=True)
        np.save(folder / "judge" / f"{index:06d}.npy", np.array([judge], dtype=np.float32))
    return folder


class _LpipsStyleLoader:
    """What LPIPS's data loader yields: ToTensor + Normalize(0.5, 0.5), i.e. [-1, 1], and the judge."""

    def __init__(self, folder):
        self.folder = folder
        self.to_tensor = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])

    def load_data(self):
        for stem in sorted(p.stem for p in (self.folder / "ref").glob("*.png")):
            item = {sub: self.to_tensor(Image.open(self.folder / sub / f"{stem}.png").convert("RGB"))[None] for sub in ("ref", "p0", "p1")}
            item["judge"] = torch.tensor(np.load(self.folder / "judge" / f"{stem}.npy"))[None]
            yield item


def test_lpips_alex_at_native_resolution_equals_lpips_and_its_2afc_scoring(tmp_path, monkeypatch):
    from lpips.trainer import score_2afc_dataset

    folder = _write_native_bapps(tmp_path)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = lpips.LPIPS(net="alex", pretrained=False, pnet_rand=True, verbose=False).eval()
    shared = reference.state_dict()
    real_create_model = runner.create_model

    def create_with_shared_weights(*args, **kwargs):
        model = real_create_model(*args, **kwargs)
        model.lpips.load_state_dict(shared)
        return model

    monkeypatch.setattr(runner, "create_model", create_with_shared_weights)
    config = EvaluationConfig(
        model="lpips-alex",
        pretrained=False,
        dataset="bapps",
        split="cnn",
        data_root=str(tmp_path),
        attack="none",
        dataset_options={"image_size": "native", "labels": "soft"},
    )
    result, _ = run_evaluation(config, tmp_path / "results", progress=False)
    with torch.no_grad():
        expected, details = score_2afc_dataset(_LpipsStyleLoader(folder), lambda a, b: reference(a, b, normalize=False))
    assert 0.0 < expected < 1.0
    assert result.scores.clean == pytest.approx(float(expected), abs=1e-6)
    assert result.protocol["model_input"] == "native resolution, no resize inside the model"
    assert result.protocol["attacked_resolution"] == [64, 64]

    # The distances themselves, not only the score: at native size equal to LPIPS's, at 224 not.
    metric = LPIPSMetric()
    metric.lpips.load_state_dict(shared)
    item = next(_LpipsStyleLoader(folder).load_data())
    ref, p0 = (item["ref"] + 1) / 2, (item["p0"] + 1) / 2
    with torch.no_grad():
        resized = 1 - metric.sim(ref, p0)
        metric.use_native_resolution()
        native = 1 - metric.sim(ref, p0)
    assert torch.allclose(native, torch.tensor(details["d0s"][:1], dtype=native.dtype), atol=1e-6)
    assert not torch.allclose(resized, native, atol=1e-4)


@pytest.mark.parametrize("name,net,n_layers", [("lpips-vgg", "vgg", 5), ("lpips-squeeze", "squeeze", 7)])
def test_lpips_vgg_and_squeeze_build_with_the_packaged_linear_layers(name, net, n_layers):
    model = create_model(name, pretrained=False)
    assert model.card.backbone in ("VGG-16", "SqueezeNet 1.1") and len(model.lpips.lins) == n_layers
    load_lpips_linear_layers(model, packaged_linear_weights(net))
    shipped = torch.load(packaged_linear_weights(net), map_location="cpu", weights_only=True)
    assert torch.equal(model.lpips.lins[n_layers - 1].model[1].weight, shipped[f"lin{n_layers - 1}.model.1.weight"])
    x = torch.rand(2, 3, 64, 64)
    assert model.sim(x, x).allclose(torch.ones(2), atol=1e-5)
