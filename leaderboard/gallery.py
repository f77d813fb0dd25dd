"""Adversarial examples on the site: each result's `--save-adversarial` gallery, copied into SITE/gallery/ for its model page.

A gallery folder comes from outside (a results folder), so it is read as hostile: its examples.json must follow the
schema (benchmark/schema.py's GalleryRecord, image names bare), the folder must sit beside its result, and every image
must be a regular PNG file directly inside it (no links, no path out); anything else is skipped with a warning.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from benchmark.gallery import EXAMPLES_FILE, IMAGE_KINDS
from benchmark.results import EvaluationResult
from benchmark.schema import GalleryExampleRecord, SchemaError, validate_gallery

from .model_pages import model_slug

MAX_EXAMPLES_BYTES = 4 * 2**20
MAX_IMAGE_BYTES = 16 * 2**20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class GalleryExample:
    """One example as a model page shows it: its images (paths relative to the site root) and the record."""

    images: dict[str, str]  # reference | adversarial | perturbation | x0 | x1 -> site path
    record: GalleryExampleRecord


@dataclass(frozen=True)
class Gallery:
    """A result's saved adversarial examples: what run they come from, worst first."""

    model: str
    caption: str
    examples: list[GalleryExample]


def _inside(folder: Path, name: str) -> Path | None:
    """`folder/name` when it is a regular PNG file directly inside `folder` (not a link), else None."""
    path = folder / name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != folder.resolve():
        return None
    if path.stat().st_size > MAX_IMAGE_BYTES:
        return None
    with path.open("rb") as handle:
        return path if handle.read(8) == PNG_SIGNATURE else None


def _gallery_of(path: Path, result: EvaluationResult, out_dir: Path) -> Gallery | None:
    folder = path.parent / str(result.adversarial_examples)
    if folder.is_symlink() or not folder.is_dir() or folder.resolve().parent != path.parent.resolve():
        raise ValueError(f"{folder} is not a folder beside its result")
    examples_file = folder / EXAMPLES_FILE
    if examples_file.is_symlink() or not examples_file.is_file() or examples_file.stat().st_size > MAX_EXAMPLES_BYTES:
        raise ValueError(f"{examples_file} is missing or not a small regular file")
    record = validate_gallery(json.loads(examples_file.read_text(encoding="utf-8")))
    target = out_dir / "gallery" / model_slug(result.model) / folder.name
    shown = []
    for example in record.examples:
        images = {}
        for kind in IMAGE_KINDS:
            source = _inside(folder, example.images.get(kind, "")) if kind in example.images else None
            if source is None:
                raise ValueError(f"{folder}: example {example.rank}'s {kind} image is not a PNG file inside the folder")
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / source.name)
            images[kind] = (target / source.name).relative_to(out_dir).as_posix()
        shown.append(GalleryExample(images, example))
    caption = f"{result.dataset}, {result.threat.label}, {result.attack.name if result.attack else 'no attack'}"
    return Gallery(result.model, caption + (" [random weights]" if result.weights == "random" else ""), shown)


def collect_galleries(results: list[tuple[Path, EvaluationResult]], out_dir: Path) -> dict[str, list[Gallery]]:
    """Every result's gallery copied under `out_dir/gallery/`, by model; a malformed one is skipped with a warning."""
    galleries: dict[str, list[Gallery]] = {}
    for path, result in results:
        if not result.adversarial_examples:
            continue
        try:
            gallery = _gallery_of(path, result, out_dir)
        except (OSError, ValueError, SchemaError, UnicodeDecodeError) as error:
            warnings.warn(f"skipping the adversarial examples of {path}: {error}", stacklevel=2)
            continue
        if gallery is not None and gallery.examples:
            galleries.setdefault(result.model, []).append(gallery)
    return galleries
