"""LPIPS (AlexNet) and R-LPIPS: pairwise metrics; similarity is 1 - LPIPS distance.

The `lpips` package supplies the architecture and ships the linear-layer weights (`lin0..lin4`,
shapes (1, C, 1, 1)). Its AlexNet trunk would come from torchvision's download, so we build it
with random weights and fill it through our downloader instead (offline: a clear error).
R-LPIPS (Ghazanfari et al. 2023) retrains the linear layers adversarially (Linf, perturbing the
reference); its checkpoint is a state dict of the LPIPS module (possibly under `module.`).
Images are resized to 224 px, as the paper evaluates LPIPS-style metrics on NIGHTS and BAPPS.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .base import PairwiseModel
from .card import ModelCard, WeightsSource
from .citations import LPIPS_PAPER, R_LPIPS_PAPER
from .download import fetch_weights, load_checkpoint, strip_prefix
from .preprocess import ImagePreprocess, dreamsim_style
from .registry import register_architecture

# LPIPS scales inputs to [-1, 1]; images at DreamSim's 224x224 (the paper follows DreamSim for baselines).
LPIPS_PREPROCESSING = dreamsim_style((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

ALEXNET_WEIGHTS = WeightsSource(
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    note="torchvision's AlexNet; only the sha256 prefix 7be5be79 is published (in the file name), full sha256 left None",
)
R_LPIPS_WEIGHTS = WeightsSource(
    url="https://github.com/SaraGhazanfari/R-LPIPS/raw/main/checkpoints/latest_net_linf_ref.pth",
    filename="latest_net_linf_ref.pth",
    note="R-LPIPS Linf, reference perturbed, as the paper evaluates; no sha256 published (git blob 9c94a5bdf515e1724a0229f07b0442ba309490b5)",
)
IMAGE_SIZE = 224
LPIPS_PARAMETERS = 2_470_848  # AlexNet trunk (2,469,696) + five linear layers (1,152), measured


class LPIPSMetric(PairwiseModel):
    """LPIPS with its [-1, 1] input scaling inside; `sim = 1 - distance`, range (-inf, 1]."""

    sim_range = (None, 1.0)  # the distance is a sum of non-negative terms, unbounded above

    def __init__(self, image_size: int = IMAGE_SIZE):
        super().__init__()
        import lpips

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's deprecation notes about `pretrained`
            self.lpips = lpips.LPIPS(pretrained=False, pnet_rand=True, net="alex", version="0.1", verbose=False)
        with torch.no_grad():  # LPIPS keeps its linear weights non-negative; random ones are drawn so too
            for layer in self.lpips.lins:
                layer.model[1].weight.abs_()
        self.preprocess = ImagePreprocess(LPIPS_PREPROCESSING.at_input_size(image_size))

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        """1 - LPIPS distance (B,) of image pairs in [0, 1]."""
        distance = self.lpips(self.preprocess(x), self.preprocess(y), normalize=False)
        return 1.0 - distance.flatten(1).sum(dim=1)


def load_alexnet_trunk(metric: LPIPSMetric, path: Path) -> None:
    """Copy torchvision AlexNet `features.N.*` weights into LPIPS's slices (`net.sliceK.N.*`)."""
    source = load_checkpoint(path)
    target: dict[str, Tensor] = {}
    for slice_name, block in metric.lpips.net.named_children():
        for index, _ in block.named_children():
            for param in ("weight", "bias"):
                key = f"features.{index}.{param}"
                if key in source:
                    target[f"{slice_name}.{index}.{param}"] = source[key]
    expected = {k for k in metric.lpips.net.state_dict()}
    if set(target) != expected:
        raise ValueError(f"'{path.name}' is not torchvision's AlexNet: missing {sorted(expected - set(target))[:5]}")
    metric.lpips.net.load_state_dict(target)


def load_lpips_linear_layers(metric: LPIPSMetric, path: Path) -> None:
    """Load `lin0..lin4` (and a fine-tuned trunk, `net.*`, when the file has one) from an LPIPS state dict."""
    state_dict = load_checkpoint(path)
    if any(key.startswith("module.") for key in state_dict):
        state_dict = strip_prefix(state_dict, "module.")
    linear = {k: v for k, v in state_dict.items() if k.startswith("lin") and not k.startswith("lins.")}
    expected = {f"lin{i}.model.1.weight" for i in range(5)}
    if set(linear) != expected:
        raise ValueError(f"'{path.name}' has no LPIPS linear layers (expected {sorted(expected)}); got {sorted(state_dict)[:6]}")
    trunk = strip_prefix(state_dict, "net.")
    metric.lpips.load_state_dict(linear, strict=False)
    if trunk:
        metric.lpips.net.load_state_dict(trunk)


def packaged_linear_weights() -> Path:
    """The linear-layer weights that the `lpips` package ships (v0.1, AlexNet)."""
    import lpips

    return Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"


@dataclass(frozen=True)
class LpipsWeights:
    """One weight set of LPIPS-AlexNet: where its linear layers come from (the trunk is torchvision's AlexNet)."""

    linear_layers: WeightsSource
    paper: str
    robust_training: str  # none | R-LPIPS
    notes: str
    license: str = "BSD-2-Clause"

    def card(self, name: str) -> ModelCard:
        """The model card of this weight set, registered as `name`."""
        return ModelCard(
            name=name,
            family="lpips",
            backbone="AlexNet",
            robust_training=self.robust_training,
            robust_eps="Linf" if self.robust_training != "none" else None,
            weights=self.linear_layers,
            license=self.license,
            paper=self.paper,
            image_size=IMAGE_SIZE,
            preprocessing=LPIPS_PREPROCESSING.to_dict(),
            parameters=LPIPS_PARAMETERS,
            notes=self.notes,
        )


# Every LPIPS weight set: model name -> linear layers.
LPIPS_WEIGHTS: dict[str, LpipsWeights] = {
    "lpips-alex": LpipsWeights(
        WeightsSource(package="lpips", note=f"linear layers from the lpips package; AlexNet trunk from {ALEXNET_WEIGHTS.url}"),
        LPIPS_PAPER,
        "none",
        "sim = 1 - LPIPS distance; AlexNet trunk downloaded from torchvision's URL through our cache",
    ),
    "r-lpips": LpipsWeights(
        R_LPIPS_WEIGHTS,
        R_LPIPS_PAPER,
        "R-LPIPS",
        "sim = 1 - distance; adversarially trained linear layers (Linf, reference perturbed); the paper evaluates "
        "latest_net_linf_ref.pth from the authors' repository (checkpoints/ on its main branch)",
    ),
}


@register_architecture({name: weights.card(name) for name, weights in LPIPS_WEIGHTS.items()})
def lpips_alex(pretrained: bool = True, weights: str = "lpips-alex") -> LPIPSMetric:
    """LPIPS on AlexNet with the original (lpips package) or R-LPIPS linear layers."""
    metric = LPIPSMetric()
    if pretrained:
        load_alexnet_trunk(metric, fetch_weights(ALEXNET_WEIGHTS, what=f"{weights} (AlexNet trunk)"))
        source = LPIPS_WEIGHTS[weights].linear_layers
        load_lpips_linear_layers(metric, packaged_linear_weights() if source.package else fetch_weights(source, what=weights))
    return metric
