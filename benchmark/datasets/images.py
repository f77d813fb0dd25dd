"""The one image-loading path: files to float tensors in [0, 1], with errors that name the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor


class DatasetError(RuntimeError):
    """A dataset on disk is missing, incomplete or malformed; the message names the file."""


def load_image(path: str | Path, size: int | None = None) -> Tensor:
    """RGB image at `path` as a (3, H, W) float tensor in [0, 1].

    `size` resizes to size x size (bicubic): datasets whose images differ in size batch at the
    resolution the paper evaluates at, so attacks act on those pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if size is not None and image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BICUBIC)
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DatasetError(f"cannot read image {path}: {error} (re-download or verify the dataset)") from error
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def load_image_center_crop(path: str | Path, size: int) -> Tensor:
    """RGB image resized (shorter side to `size`, bicubic, antialiased) and centre-cropped to size x size, as CLIP
    evaluates photographs: no distortion of the aspect ratio."""
    import torchvision.transforms.functional as TF

    image = TF.resize(load_image(path), size, interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
    return TF.center_crop(image, [size, size]).clamp(0.0, 1.0)


def save_image(image: Tensor | np.ndarray, path: str | Path) -> None:
    """Write a (3, H, W) float tensor in [0, 1], or an (H, W, 3) uint8 array, as PNG."""
    if isinstance(image, Tensor):
        image = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
