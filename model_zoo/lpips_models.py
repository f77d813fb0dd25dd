"""LPIPS (AlexNet, VGG-16, SqueezeNet 1.1) and R-LPIPS: pairwise metrics; similarity is 1 - LPIPS distance.

The `lpips` package supplies the architecture and ships the linear-layer weights of all three
trunks (`lin0..lin4`, seven for SqueezeNet; shapes (1, C, 1, 1)). Its trunks would come from
torchvision's download, so we build them with random weights and fill them through our downloader
instead (offline: a clear error).
R-LPIPS (Ghazanfari et al. 2023) retrains the linear layers adversarially (Linf, perturbing the
reference); its checkpoint is a state dict of the LPIPS module (possibly under `module.`).
Images are resized to 224 px, as the paper evaluates LPIPS-style metrics on NIGHTS and BAPPS;
where the protocol says native resolution (BAPPS `image_size=native`), the runner calls
`use_native_resolution` and the metric sees the files' own pixels, as the LPIPS paper evaluates
(richzhang/PerceptualSimilarity: 64x64 BAPPS patches, no resize), and the result records it.
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
TRUNK_WEIGHTS = {
    "alex": ALEXNET_WEIGHTS,
    "vgg": WeightsSource(
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        note="torchvision's VGG-16, as lpips.pretrained_networks.vgg16 loads it; only the sha256 prefix 397923af is published",
    ),
    "squeeze": WeightsSource(
        url="https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
        note="torchvision's SqueezeNet 1.1, as lpips.pretrained_networks.squeezenet loads it; only the sha256 prefix b8a52dc0 is published",
    ),
}
TRUNK_NAMES = {"alex": "AlexNet", "vgg": "VGG-16", "squeeze": "SqueezeNet 1.1"}
IMAGE_SIZE = 224
LPIPS_PARAMETERS = 2_470_848  # AlexNet trunk (2,469,696) + five linear layers (1,152), measured
TRUNK_PARAMETERS = {"alex": LPIPS_PARAMETERS, "vgg": 14_716_160, "squeeze": 724_736}  # trunk + linear layers, measured


class LPIPSMetric(PairwiseModel):
    """LPIPS with its [-1, 1] input scaling inside; `sim = 1 - distance`, range (-inf, 1]."""

    sim_range = (None, 1.0)  # the distance is a sum of non-negative terms, unbounded above

    def __init__(self, image_size: int = IMAGE_SIZE, net: str = "alex"):
        super().__init__()
        import lpips

        if net not in TRUNK_WEIGHTS:
            raise ValueError(f"unknown LPIPS trunk '{net}'; choose one of {', '.join(TRUNK_WEIGHTS)}")
        self.net = net
        self.native_resolution = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's deprecation notes about `pretrained`
            self.lpips = lpips.LPIPS(pretrained=False, pnet_rand=True, net=net, version="0.1", verbose=False)
        with torch.no_grad():  # LPIPS keeps its linear weights non-negative; random ones are drawn so too
            for layer in self.lpips.lins:
                layer.model[1].weight.abs_()
        self.preprocess = ImagePreprocess(LPIPS_PREPROCESSING.at_input_size(image_size))

    def use_native_resolution(self) -> None:
        """Compare images at the size they come in (only the [-1, 1] scaling): LPIPS's own protocol on BAPPS."""
        self.native_resolution = True

    def _network_input(self, x: Tensor) -> Tensor:
        if not self.native_resolution:
            return self.preprocess(x)
        return (x - self.preprocess.mean.to(x.dtype)) / self.preprocess.std.to(x.dtype)

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        """1 - LPIPS distance (B,) of image pairs in [0, 1]."""
        distance = self.lpips(self._network_input(x), self._network_input(y), normalize=False)
        return 1.0 - distance.flatten(1).sum(dim=1)


def load_trunk(metric: LPIPSMetric, path: Path) -> None:
    """Copy torchvision `features.N.*` weights (AlexNet, VGG-16, SqueezeNet 1.1) into LPIPS's slices (`net.sliceK.N.*`)."""
    source = load_checkpoint(path)
    expected = metric.lpips.net.state_dict()
    target = {name: source[f"features.{name.split('.', 1)[1]}"] for name in expected if f"features.{name.split('.', 1)[1]}" in source}
    if set(target) != set(expected):
        missing = sorted(set(expected) - set(target))[:5]
        raise ValueError(f"'{path.name}' is not torchvision's {TRUNK_NAMES[metric.net]}: missing {missing}")
    metric.lpips.net.load_state_dict(target)


load_alexnet_trunk = load_trunk  # its name while AlexNet was the only trunk


def load_lpips_linear_layers(metric: LPIPSMetric, path: Path) -> None:
    """Load `lin0..lin4` (and a fine-tuned trunk, `net.*`, when the file has one) from an LPIPS state dict."""
    state_dict = load_checkpoint(path)
    if any(key.startswith("module.") for key in state_dict):
        state_dict = strip_prefix(state_dict, "module.")
    linear = {k: v for k, v in state_dict.items() if k.startswith("lin") and not k.startswith("lins.")}
    expected = {f"lin{i}.model.1.weight" for i in range(len(metric.lpips.lins))}
    if set(linear) != expected:
        raise ValueError(f"'{path.name}' has no LPIPS linear layers (expected {sorted(expected)}); got {sorted(state_dict)[:6]}")
    trunk = strip_prefix(state_dict, "net.")
    metric.lpips.load_state_dict(linear, strict=False)
    if trunk:
        metric.lpips.net.load_state_dict(trunk)


def packaged_linear_weights(net: str = "alex") -> Path:
    """The linear-layer weights that the `lpips` package ships (v0.1) for trunk `net`."""
    import lpips

    return Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth"


@dataclass(frozen=True)
class LpipsWeights:
    """One LPIPS weight set: where its linear layers come from (the trunk, `net`, is torchvision's)."""

    linear_layers: WeightsSource
    paper: str
    robust_training: str  # none | R-LPIPS
    notes: str
    license: str = "BSD-2-Clause"
    net: str = "alex"

    def card(self, name: str) -> ModelCard:
        """The model card of this weight set, registered as `name`."""
        return ModelCard(
            name=name,
            family="lpips",
            backbone=TRUNK_NAMES[self.net],
            robust_training=self.robust_training,
            robust_eps="Linf" if self.robust_training != "none" else None,
            weights=self.linear_layers,
            license=self.license,
            paper=self.paper,
            image_size=IMAGE_SIZE,
            preprocessing=LPIPS_PREPROCESSING.to_dict(),
            parameters=TRUNK_PARAMETERS[self.net],
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
    **{
        name: LpipsWeights(
            WeightsSource(
                package="lpips", note=f"linear layers from the lpips package; {TRUNK_NAMES[net]} trunk from {TRUNK_WEIGHTS[net].url}"
            ),
            LPIPS_PAPER,
            "none",
            f"sim = 1 - LPIPS distance (v0.1, {TRUNK_NAMES[net]}); trunk downloaded from torchvision's URL through our cache; "
            "at 224 px like lpips-alex unless the protocol says native resolution (BAPPS image_size=native)",
            net=net,
        )
        for name, net in (("lpips-vgg", "vgg"), ("lpips-squeeze", "squeeze"))
    },
}


def build_lpips(weights: str, pretrained: bool) -> LPIPSMetric:
    """LPIPS with the trunk and linear layers of weight set `weights` (random when not `pretrained`)."""
    net = LPIPS_WEIGHTS[weights].net
    metric = LPIPSMetric(net=net)
    if pretrained:
        load_trunk(metric, fetch_weights(TRUNK_WEIGHTS[net], what=f"{weights} ({TRUNK_NAMES[net]} trunk)"))
        source = LPIPS_WEIGHTS[weights].linear_layers
        load_lpips_linear_layers(metric, packaged_linear_weights(net) if source.package else fetch_weights(source, what=weights))
    return metric


@register_architecture({name: w.card(name) for name, w in LPIPS_WEIGHTS.items() if w.net == "alex"})
def lpips_alex(pretrained: bool = True, weights: str = "lpips-alex") -> LPIPSMetric:
    """LPIPS on AlexNet with the original (lpips package) or R-LPIPS linear layers."""
    return build_lpips(weights, pretrained)


@register_architecture({"lpips-vgg": LPIPS_WEIGHTS["lpips-vgg"].card("lpips-vgg")})
def lpips_vgg(pretrained: bool = True, weights: str = "lpips-vgg") -> LPIPSMetric:
    """LPIPS on VGG-16 with the lpips package's linear layers."""
    return build_lpips(weights, pretrained)


@register_architecture({"lpips-squeeze": LPIPS_WEIGHTS["lpips-squeeze"].card("lpips-squeeze")})
def lpips_squeeze(pretrained: bool = True, weights: str = "lpips-squeeze") -> LPIPSMetric:
    """LPIPS on SqueezeNet 1.1 with the lpips package's linear layers."""
    return build_lpips(weights, pretrained)
