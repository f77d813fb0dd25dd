"""The one image-loading path: files to float tensors in [0, 1], with errors that name the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from model_zoo import fetch


class DatasetError(RuntimeError):
    """A dataset on disk is missing, incomplete or malformed; the message names the file."""


ImageTransform = Callable[[Any], Any]  # PIL image -> PIL image (a torchvision transform)


def path_inside(root: Path, relative: str, source: str | Path) -> Path:
    """`root / relative`, refused unless it stays inside the dataset folder `root`, links resolved (`fetch.path_inside`).

    Paths read from a dataset's own files (a csv, an image list, a ground-truth pickle) and files
    listed in its folders must lie inside the dataset's folder; links leaving it need `--follow-links`.
    """
    try:
        return fetch.path_inside(root, relative, source=source, where="the dataset folder")
    except fetch.UnsafePathError as error:
        raise DatasetError(str(error)) from None


def load_image(path: str | Path, transform: ImageTransform | None = None, box: tuple[float, float, float, float] | None = None) -> Tensor:
    """RGB image at `path` as a (3, H, W) float tensor in [0, 1].

    `box` (x1, y1, x2, y2) crops first (clipped to the image); `transform` then applies the
    resize/crop the paper used for this model or dataset, on the decoded image as the paper's code
    does, so attacks act on exactly those pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if box is not None:
                x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
                x2, y2 = min(int(np.ceil(box[2])), image.width), min(int(np.ceil(box[3])), image.height)
                if x2 > x1 and y2 > y1:
                    image = image.crop((x1, y1, x2, y2))
            if transform is not None:
                image = transform(image)
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DatasetError(f"cannot read image {path}: {error} (re-download or verify the dataset)") from error
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def center_crop_transform(size: int) -> ImageTransform:
    """Shorter side to `size` (bicubic, antialiased), then the central size x size: CLIP's evaluation crop."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC, antialias=True),
            transforms.CenterCrop(size),
        ]
    )


def load_image_center_crop(path: str | Path, size: int) -> Tensor:
    """RGB image resized and centre-cropped to size x size (`center_crop_transform`): no aspect distortion."""
    return load_image(path, center_crop_transform(size))


def save_image(image: Tensor | np.ndarray, path: str | Path) -> None:
    """Write a (3, H, W) float tensor in [0, 1], or an (H, W, 3) uint8 array, as PNG."""
    if isinstance(image, Tensor):
        pixels = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    else:
        pixels = image
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
