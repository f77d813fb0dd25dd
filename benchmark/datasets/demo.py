"""The embedded `demo` dataset: BAPPS-style 2AFC triplets built from photographs that scikit-image ships.

Each triplet takes a 64x64 patch of a photograph and two distorted copies (noise, blur, JPEG,
colour shift, contrast) at different strengths. The judge (fraction preferring p1) comes from the
strength gap, quantised to fifths like BAPPS val's five judgements. The set is written once into
the cache folder in the real BAPPS layout and read back by the BAPPS loader.

Photographs (all public domain or CC0, per scikit-image's data documentation): astronaut (NASA),
chelsea (CC0, Stefan van der Walt), coffee (CC0, Rachel Michetti), rocket (SpaceX, public domain),
hubble_deep_field (NASA, public domain), immunohistochemistry (no known restrictions),
camera (CC0, Lav Varshney).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from model_zoo.weights import perceptbench_cache_dir

from .bapps import load_bapps
from .images import save_image
from .twoafc import TwoAFCDataset
from .verify import VerifyReport, check_images

DEMO_VERSION = "v1"
DEMO_SPLIT = "demo"
DEMO_SIZE = 64
DEMO_TRIPLETS = 240
DEMO_SEED = 20250101
PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "camera")


def _gaussian_noise(patch: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    return patch + rng.normal(0.0, 0.02 + 0.16 * strength, patch.shape)


def _blur(patch: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    image = Image.fromarray(_to_uint8(patch)).filter(ImageFilter.GaussianBlur(radius=0.3 + 2.2 * strength))
    return np.asarray(image, dtype=np.float64) / 255.0


def _jpeg(patch: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(_to_uint8(patch)).save(buffer, format="JPEG", quality=int(round(85 - 80 * strength)))
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float64) / 255.0


def _colour_shift(patch: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    return patch + (0.03 + 0.22 * strength) * direction


def _contrast(patch: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    mean = patch.mean(axis=(0, 1), keepdims=True)
    return mean + (1.0 - (0.1 + 0.65 * strength)) * (patch - mean)


DISTORTIONS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "noise": _gaussian_noise,
    "blur": _blur,
    "jpeg": _jpeg,
    "colour": _colour_shift,
    "contrast": _contrast,
}


def _to_uint8(array: np.ndarray) -> np.ndarray:
    return (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _photographs() -> list[np.ndarray]:
    import skimage.data

    photos = []
    for name in PHOTOGRAPHS:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        photos.append(np.asarray(image[..., :3], dtype=np.uint8))
    return photos


def judge_from_strengths(strength_0: float, strength_1: float, temperature: float = 0.12) -> float:
    """Fraction of five simulated observers preferring p1: more when p1 is the weaker distortion."""
    preference = 1.0 / (1.0 + np.exp(-(strength_0 - strength_1) / temperature))
    return round(preference * 5) / 5


def write_demo(split_dir: Path, n_triplets: int = DEMO_TRIPLETS, seed: int = DEMO_SEED) -> None:
    """Write the demo triplets into `split_dir` in the BAPPS layout (ref/ p0/ p1/ judge/)."""
    rng = np.random.default_rng(seed)
    photos = _photographs()
    names = sorted(DISTORTIONS)
    for folder in ("ref", "p0", "p1", "judge"):
        (split_dir / folder).mkdir(parents=True, exist_ok=True)
    for index in range(n_triplets):
        photo = photos[index % len(photos)]
        scale = rng.choice([2, 3, 4])
        small = (
            np.asarray(
                Image.fromarray(photo).resize((photo.shape[1] // scale, photo.shape[0] // scale), Image.Resampling.LANCZOS),
                dtype=np.float64,
            )
            / 255.0
        )
        top = rng.integers(0, small.shape[0] - DEMO_SIZE + 1)
        left = rng.integers(0, small.shape[1] - DEMO_SIZE + 1)
        reference = small[top : top + DEMO_SIZE, left : left + DEMO_SIZE]
        kind_0 = names[rng.integers(len(names))]
        kind_1 = kind_0 if rng.random() < 0.5 else names[rng.integers(len(names))]
        strength_0, strength_1 = rng.random(), rng.random()
        candidate_0 = DISTORTIONS[kind_0](reference, strength_0, rng)
        candidate_1 = DISTORTIONS[kind_1](reference, strength_1, rng)
        stem = f"{index:06d}"
        save_image(_to_uint8(reference), split_dir / "ref" / f"{stem}.png")
        save_image(_to_uint8(candidate_0), split_dir / "p0" / f"{stem}.png")
        save_image(_to_uint8(candidate_1), split_dir / "p1" / f"{stem}.png")
        np.save(split_dir / "judge" / f"{stem}.npy", np.array([judge_from_strengths(strength_0, strength_1)], dtype=np.float32))


def demo_root(cache_dir: Path | None = None) -> Path:
    """The folder holding the demo's split folder, as BAPPS's `2afc/val` holds its splits."""
    return (cache_dir or perceptbench_cache_dir()) / "datasets" / f"demo-{DEMO_VERSION}" / "2afc" / "val"


def ensure_demo(cache_dir: Path | None = None) -> Path:
    """Build the demo once (atomically: a half-written set is never read) and return its root."""
    root = demo_root(cache_dir)
    if (root / DEMO_SPLIT).is_dir():
        return root
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=root))
    try:
        write_demo(staging / DEMO_SPLIT)
        try:
            os.replace(staging / DEMO_SPLIT, root / DEMO_SPLIT)
        except OSError:
            if not (root / DEMO_SPLIT).is_dir():  # another process may have finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def load_demo(cache_dir: Path | None = None, labels: str = "hard") -> TwoAFCDataset:
    """The demo under BAPPS's protocol (hard labels by default), but at its files' 64x64: the quick
    start stays fast on a CPU, and no paper number depends on the demo."""
    return load_bapps(ensure_demo(cache_dir), splits=[DEMO_SPLIT], name="demo", labels=labels, image_size=None)


def verify_demo(location: Path | None, report: VerifyReport) -> None:
    """`bench data verify demo`: the embedded set (built on first use in the cache) has its 240 triplets, every image decodable."""
    dataset = load_demo()
    report.facts.append(f"embedded: {len(dataset)} triplets in {demo_root() / DEMO_SPLIT}")
    if len(dataset) != DEMO_TRIPLETS:
        report.problems.append(f"the demo has {len(dataset)} triplets, not {DEMO_TRIPLETS}; delete {demo_root()} to rebuild it")
    check_images([p for t in dataset.triplets for p in (t.reference, t.candidate_0, t.candidate_1)], report, "demo images")
