"""How images reach a metric's network: resize, crop and normalise, as the paper ran each model.

A `Preprocessing` is data (it goes on the model card and into every result file). It is applied in
two places, with the same torchvision transforms:
- by the data pipeline, on the decoded image, before the attack: the paper's code preprocesses
  NIGHTS and THINGS images with the model's transform and attacks the 224x224 result, so our
  datasets load images through the model's `image_transform()` and attacks act on those pixels;
- inside the model (`ImagePreprocess`), differentiably, for images that are not at the network's
  input size yet (a user calling `sim` on arbitrary images). An image already at the input size
  is taken as preprocessed and only normalised, so the two paths never apply the geometry twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.transforms import v2 as transforms

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NO_MEAN = (0.0, 0.0, 0.0)
NO_STD = (1.0, 1.0, 1.0)

INTERPOLATIONS = {
    "bicubic": transforms.InterpolationMode.BICUBIC,
    "bilinear": transforms.InterpolationMode.BILINEAR,
    "nearest": transforms.InterpolationMode.NEAREST,
}


@dataclass(frozen=True)
class Preprocessing:
    """Resize, optional centre crop, then normalise.

    `resize`: an int sends the shorter side to that length and keeps the aspect ratio (torchvision's
    `Resize(int)`, open_clip's eval transform); a pair `(h, w)` stretches to exactly that size
    (DreamSim's `Resize((224, 224))`). `source` says where the choice comes from.
    """

    resize: int | tuple[int, int]
    crop: int | None = None
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = NO_MEAN
    std: tuple[float, float, float] = NO_STD
    source: str = ""

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"unknown interpolation '{self.interpolation}'; choose one of {', '.join(INTERPOLATIONS)}")
        if isinstance(self.resize, list):  # from JSON
            object.__setattr__(self, "resize", tuple(self.resize))

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of what the network receives."""
        if self.crop is not None:
            return (self.crop, self.crop)
        if isinstance(self.resize, int):
            raise ValueError("a shorter-side resize without a crop has no fixed input size")
        return (int(self.resize[0]), int(self.resize[1]))

    def image_transform(self) -> Callable[[Any], Any]:
        """The geometric part as a torchvision transform: works on PIL images and on (B, 3, H, W) tensors."""
        size = self.resize if isinstance(self.resize, int) else list(self.resize)
        steps: list[Callable[[Any], Any]] = [transforms.Resize(size, interpolation=INTERPOLATIONS[self.interpolation], antialias=True)]
        if self.crop is not None:
            steps.append(transforms.CenterCrop(self.crop))
        return transforms.Compose(steps)

    def at_input_size(self, size: int) -> Preprocessing:
        """The same recipe scaled to a network of input `size` (the small random-weight test builds)."""
        height = self.input_size[0]
        if size == height:
            return self
        scale = size / height
        resize = round(self.resize * scale) if isinstance(self.resize, int) else (size, size)
        return Preprocessing(resize, size if self.crop is not None else None, self.interpolation, self.mean, self.std, self.source)

    def describe(self) -> str:
        """One line for cards and tables, e.g. 'Resize(256, bicubic) + CenterCrop(224)'."""
        if isinstance(self.resize, int):
            text = (
                f"Resize({self.resize}, {self.interpolation}) + CenterCrop({self.crop})"
                if self.crop
                else f"Resize({self.resize}, {self.interpolation})"
            )
        else:
            text = f"Resize({self.resize[0]}x{self.resize[1]}, {self.interpolation})" + (f" + CenterCrop({self.crop})" if self.crop else "")
        if self.mean != NO_MEAN or self.std != NO_STD:
            text += f"; normalise mean {tuple(round(m, 4) for m in self.mean)}, std {tuple(round(s, 4) for s in self.std)}"
        return text + (f" ({self.source})" if self.source else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data for cards and result files."""
        data = asdict(self)
        data["resize"] = self.resize if isinstance(self.resize, int) else list(self.resize)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        data["description"] = self.describe()
        return data


# Where the choices come from (cited on every card that uses them).
AUTHORS_CODE = "the paper's code, github fra31/perceptual-metrics, utils_perceptual_models.py"
DREAMSIM_EVAL = "DreamSim's evaluation transform Resize((224, 224), bicubic), which the paper follows for models its code does not cover"

# Zero-shot open_clip models: open_clip's eval transform (shorter side to the model's size, centre
# crop, bicubic); for ConvNeXt-B (trained at 256) the paper's code keeps Resize(256) and crops 224.
OPEN_CLIP_VIT = Preprocessing(224, 224, "bicubic", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, f"open_clip's eval transform, as in {AUTHORS_CODE}")
OPEN_CLIP_CONVNEXT = Preprocessing(
    256, 224, "bicubic", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, f"open_clip's Resize(256) kept, crop set to 224, as in {AUTHORS_CODE}"
)
# NIGHTS-fine-tuned (+mlp, +lora) CLIP models: DreamSim's transform (the same file switches to it).
NIGHTS_FINETUNED_CLIP = Preprocessing(
    (224, 224),
    None,
    "bicubic",
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    f"DreamSim's Resize((224, 224)) for +mlp/+lora models, as in {AUTHORS_CODE}",
)


def dreamsim_style(mean: Sequence[float] = NO_MEAN, std: Sequence[float] = NO_STD) -> Preprocessing:
    """DreamSim's Resize((224, 224), bicubic) with the network's own normalisation."""
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std take one value per RGB channel, got {list(mean)} and {list(std)}")
    rgb_mean = (float(mean[0]), float(mean[1]), float(mean[2]))
    rgb_std = (float(std[0]), float(std[1]), float(std[2]))
    return Preprocessing((224, 224), None, "bicubic", rgb_mean, rgb_std, DREAMSIM_EVAL)


# What the data pipeline uses for a metric that declares no preprocessing (SSIM, pixel metrics,
# third-party pairwise metrics): the same 224x224 images as the DreamSim-protocol models.
DEFAULT_PREPROCESSING = dreamsim_style()


class ImagePreprocess(nn.Module):
    """`Preprocessing` on tensors, differentiable: geometry unless already at the input size, then normalise."""

    mean: Tensor
    std: Tensor

    def __init__(self, config: Preprocessing):
        super().__init__()
        self.config = config
        self.input_size = config.input_size
        self.geometry = config.image_transform()
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Resize/crop unless already at the input size, then normalise."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != self.input_size:
            x = self.geometry(x)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def extra_repr(self) -> str:
        """The configuration, as `print(model)` shows it."""
        return self.config.describe()
