"""LipSim (Ghazanfari et al. 2024): a 1-Lipschitz SLL network distilled from DreamSim, fine-tuned on NIGHTS.

Written here from the published architecture so the released checkpoints load as they are: a dict
with `model_state_dict`, keys under `module.model.` (a DataParallel-wrapped, normalising wrapper):
`base.1.<i>.{kernel,bias,q}` for the 20 SLL convolutions and `base.2.<j>.{weight,bias,q}` for the
7 SLL linear layers. The embedding is the first 1792 features; similarity is their cosine. Images
enter at 224 px with no normalisation (LipSim's evaluation uses mean 0, std 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .citations import LIPSIM_PAPER
from .download import fetch_weights, load_checkpoint, strip_prefix
from .preprocess import ImagePreprocess, dreamsim_style
from .registry import register_architecture

# LipSim takes [0, 1] pixels (no normalisation); it was distilled from DreamSim, whose 224x224 transform we use.
LIPSIM_PREPROCESSING = dreamsim_style()


def _safe_reciprocal(x: Tensor) -> Tensor:
    """1/x, with 0 where x is 0 (a dead unit must not produce inf)."""
    return torch.where(x == 0, torch.zeros_like(x), 1.0 / torch.where(x == 0, torch.ones_like(x), x))


class SLLConv(nn.Module):
    """SDP-based Lipschitz residual convolution: x - 2 K^T (t * relu(K x + b)), 1-Lipschitz in L2."""

    def __init__(self, channels: int, inner: int, kernel_size: int = 3):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(inner, channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(1, inner, 1, 1))
        self.q = nn.Parameter(torch.randn(inner))
        nn.init.xavier_normal_(self.kernel)
        bound = (channels * kernel_size * kernel_size) ** -0.5
        nn.init.uniform_(self.bias, -bound, bound)

    def rescaling(self) -> Tensor:
        """Per-unit scale t that makes the layer 1-Lipschitz (SLL's SDP condition)."""
        gram = F.conv2d(self.kernel, self.kernel, padding=self.kernel.shape[-1] - 1).abs()
        # Upstream scales both sides by the same unit's q, which cancels; kept so its checkpoints mean the same.
        scale = torch.exp(self.q).view(-1, 1, 1, 1)
        return _safe_reciprocal((gram * scale / scale).sum(dim=(1, 2, 3)))

    def forward(self, x: Tensor) -> Tensor:
        """x - 2 K^T (t * relu(K x + b))."""
        padding = self.kernel.shape[-1] // 2
        hidden = F.relu(F.conv2d(x, self.kernel, padding=padding) + self.bias)
        hidden = hidden * self.rescaling().view(1, -1, 1, 1)
        return x - 2 * F.conv_transpose2d(hidden, self.kernel, padding=padding)


class SLLLinear(nn.Module):
    """SDP-based Lipschitz residual linear layer: x - 2 W^T (t * relu(W x + b))."""

    def __init__(self, features: int, inner: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(inner, features))
        self.bias = nn.Parameter(torch.empty(1, inner))
        self.q = nn.Parameter(torch.randn(inner))
        nn.init.xavier_normal_(self.weight)
        bound = features**-0.5
        nn.init.uniform_(self.bias, -bound, bound)

    def rescaling(self) -> Tensor:
        """Per-unit scale t that makes the layer 1-Lipschitz (SLL's SDP condition)."""
        q = torch.exp(self.q)
        weighted_gram = (torch.exp(-self.q)[:, None] * (self.weight @ self.weight.T) * q[None, :]).abs()
        return _safe_reciprocal(weighted_gram.sum(dim=1))

    def forward(self, x: Tensor) -> Tensor:
        """x - 2 W^T (t * relu(W x + b))."""
        hidden = F.relu(F.linear(x, self.weight) + self.bias) * self.rescaling()
        return x - 2 * F.linear(hidden, self.weight.T)


class ZeroPadChannels(nn.Module):
    """Append zero channels so RGB enters a residual network of `channels` width (norm-preserving)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        """`x` with zero channels appended up to `channels`."""
        return F.pad(x, (0, 0, 0, 0, 0, self.channels - x.shape[1]))


@dataclass(frozen=True)
class LipSimConfig:
    """LipSim's 'small' network (the released one): depth 20, 45 channels, 7 linear layers of 1024."""

    depth: int = 20
    channels: int = 45
    inner_conv: int = 5
    depth_linear: int = 7
    inner_linear: int = 1024
    embed_dim: int = 1792
    image_size: int = 224


REDUCED = LipSimConfig(depth=2, channels=6, inner_conv=4, depth_linear=2, inner_linear=32, embed_dim=48, image_size=64)


class LipSimNetwork(nn.Module):
    """The SLL backbone, with module names matching the released checkpoints (`base.1.*`, `base.2.*`)."""

    def __init__(self, config: LipSimConfig = LipSimConfig()):
        super().__init__()
        convs = [SLLConv(config.channels, config.inner_conv) for _ in range(config.depth)]
        pools = [nn.AvgPool2d(4, divisor_override=4), nn.AvgPool2d(4, divisor_override=4)]
        side = config.image_size // 16
        features = config.channels * side * side
        linears = [SLLLinear(features, config.inner_linear) for _ in range(config.depth_linear)]
        self.base = nn.Sequential(ZeroPadChannels(config.channels), nn.Sequential(*convs, *pools), nn.Sequential(nn.Flatten(), *linears))
        self.embed_dim = config.embed_dim

    def forward(self, x: Tensor) -> Tensor:
        """The first `embed_dim` output features: LipSim's embedding."""
        return self.base(x)[:, : self.embed_dim]


def load_lipsim_weights(network: LipSimNetwork, path: Path) -> None:
    """Load a LipSim checkpoint (`model_state_dict` under `module.model.`, or a bare state dict)."""
    checkpoint = load_checkpoint(path)
    state_dict = checkpoint.get("model_state_dict", checkpoint)
    for prefix in ("module.model.", "model.", "module."):
        if any(key.startswith(prefix) for key in state_dict):
            state_dict = strip_prefix(state_dict, prefix)
            break
    missing, unexpected = network.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"'{path.name}' is not a LipSim checkpoint of this size: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


class LipSimModel(EmbeddingModel):
    """LipSim's network behind its preprocessing; at the input size (mean 0, std 1) the embedding is 1-Lipschitz.

    Every layer is: SLL convolutions and linear layers by construction (Araujo et al. 2023), zero
    channel padding and the first-`embed_dim` slice trivially, and each 4x4 sum / 4 pool by
    Cauchy-Schwarz (sqrt(16) / 4 = 1).
    """

    embedding_lipschitz = 1.0


def build_lipsim(weights: WeightsSource, pretrained: bool, reduced: bool, what: str) -> EmbeddingModel:
    """LipSim's network (the released size, or REDUCED), its checkpoint loaded when `pretrained`."""
    path = fetch_weights(weights, what=what) if pretrained else None  # before building: offline fails fast
    config = REDUCED if reduced else LipSimConfig()
    network = LipSimNetwork(config)
    if path is not None:
        load_lipsim_weights(network, path)
    return LipSimModel(network, ImagePreprocess(LIPSIM_PREPROCESSING.at_input_size(config.image_size)))


LIPSIM_PARAMETERS = 63_276_796  # measured on the full-size random build


@dataclass(frozen=True)
class LipSimWeights:
    """One released LipSim checkpoint: its file name (as the paper's evaluation code names it) and training."""

    filename: str
    finetuning: str  # none | NIGHTS-hinge-<margin>
    description: str
    license: str = "unknown"
    paper: str = LIPSIM_PAPER

    @property
    def weights(self) -> WeightsSource:
        """The checkpoint file: no stable URL, so it is placed in the cache by hand."""
        return WeightsSource(
            filename=self.filename,
            note="released by the LipSim authors (github SaraGhazanfari/lipsim); no stable download URL or sha256 published",
        )

    def card(self, name: str) -> ModelCard:
        """The model card of this checkpoint, registered as `name`."""
        return ModelCard(
            name=name,
            family="lipsim",
            backbone="SLL (1-Lipschitz CNN, 20 conv + 7 linear)",
            robust_training="1-Lipschitz (certified L2)",
            finetuning=self.finetuning,
            weights=self.weights,
            license=self.license,
            paper=self.paper,
            image_size=224,
            preprocessing=LIPSIM_PREPROCESSING.to_dict(),
            parameters=LIPSIM_PARAMETERS,
            notes=f"{self.description}; checkpoint file name as in the paper's evaluation code; sim = cosine of the 1792-d embedding",
        )


# Every LipSim checkpoint: model name -> file and training.
LIPSIM_WEIGHTS: dict[str, LipSimWeights] = {
    "lipsim-pretrained": LipSimWeights("model.ckpt-1.pth", "none", "distilled from DreamSim on ImageNet, before NIGHTS fine-tuning"),
    "lipsim-margin0.2": LipSimWeights("model.ckpt-435_margin=0.2.pth", "NIGHTS-hinge-0.2", "fine-tuned on NIGHTS with hinge margin 0.2"),
    "lipsim-margin0.5": LipSimWeights("model.ckpt-435_margin=0.5.pth", "NIGHTS-hinge-0.5", "fine-tuned on NIGHTS with hinge margin 0.5"),
}


@register_architecture({name: weights.card(name) for name, weights in LIPSIM_WEIGHTS.items()})
def lipsim(pretrained: bool = True, reduced: bool = False, weights: str = "lipsim-pretrained") -> EmbeddingModel:
    """LipSim's 1-Lipschitz network with one of its released checkpoints."""
    return build_lipsim(LIPSIM_WEIGHTS[weights].weights, pretrained, reduced, what=weights)
