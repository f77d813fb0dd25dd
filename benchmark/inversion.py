"""`bench invert features|text`: images reconstructed from embeddings, saved as PNGs, a grid and a JSON.

For each model, the targets (images, or prompts through the CLIP text tower) are crossed with the
seeds and inverted in batches with `attacks.inversion` (paper Sec. VI, App. A-B). The grid has a
row per model and a column per (target, seed); feature inversion adds a first row of originals.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor
from tqdm.auto import tqdm

from attacks.defaults import INVERSION_BATCH_SIZE, BatchSize
from attacks.inversion import InversionConfig, invert, noisy_grey_start
from model_zoo import create_model
from model_zoo.registry import model_class
from model_zoo.text_tower import text_tower_for_model, text_tower_source

from .datasets.images import load_image_center_crop, save_image
from .runtime.acceleration import resolve_batch_size
from .runtime.atomic import atomic_write_bytes, atomic_write_text
from .runtime.environment import environment

KINDS = ("features", "text")
RANDOM_WEIGHTS_LABEL = "RANDOM WEIGHTS: smoke run, not a real result"


@dataclass
class InversionRun:
    """One `bench invert` call: every target inverted with every model and seed under one InversionConfig."""

    kind: str  # features | text
    models: list[str]
    targets: list[str]  # image paths (features) or prompts (text)
    seeds: list[int] = field(default_factory=lambda: [0])
    config: InversionConfig = InversionConfig()
    pretrained: bool = True
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    batch_size: BatchSize = INVERSION_BATCH_SIZE  # or "auto": resolved per model once it is built

    def validate(self) -> None:
        """Refuse bad input (kind, models without an embedding or text tower, missing images) before any model runs."""
        if self.kind not in KINDS:
            raise ValueError(f"unknown inversion kind '{self.kind}'; choose features or text")
        if not self.models:
            raise ValueError("name at least one model with --model")
        if not self.targets:
            raise ValueError("--image is needed (one or more)" if self.kind == "features" else "--prompt is needed (one or more)")
        if not self.seeds:
            raise ValueError("name at least one seed with --seeds, e.g. --seeds 0,1,2")
        bad_batch = self.batch_size != "auto" and (not isinstance(self.batch_size, int) or self.batch_size < 1)
        if bad_batch or self.config.n_iter < 0 or self.config.image_size < 8:
            raise ValueError(
                f"need --batch-size >= 1, --n-iter >= 0, --image-size >= 8; got {self.batch_size}, {self.config.n_iter}, {self.config.image_size}"
            )
        for model in self.models:  # clear errors before any model is built
            declared = model_class(model)  # the class its factory returns, when it says; otherwise checked once built
            if declared is not None and not declared.has_embedding:
                raise ValueError(
                    f"model '{model}' is a pairwise metric with no embedding to invert; choose an embedding model (CLIP, DINO, DreamSim, ...)"
                )
            if self.kind == "text":
                text_tower_source(model)
        if self.kind == "features":
            for target in self.targets:
                if not Path(target).is_file():
                    raise FileNotFoundError(f"--image '{target}' does not exist; pass the path of a PNG or JPEG file")


@dataclass
class InvertedImage:
    """One reconstruction: the PNG written and how close its embedding came to the target's."""

    model: str
    target: str
    seed: int
    file: str
    similarity: float  # cosine of the final image's embedding to the target embedding
    start_similarity: float
    loss_first: float  # mean squared distance of the batch at the start and at the end (objective trace)
    loss_last: float


@dataclass
class InversionReport:
    """What `inversion.json` records: the run, every image, the grid and the environment."""

    kind: str
    models: list[str]
    targets: list[str]
    seeds: list[int]
    config: dict[str, Any]
    weights: str  # pretrained | random
    images: list[InvertedImage]
    grid: str
    timing_s: dict[str, float]
    environment: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; a random-weights run carries a note saying it is a smoke run."""
        data = asdict(self)
        if self.weights == "random":
            data["note"] = RANDOM_WEIGHTS_LABEL
        return data


def _slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:limit] or "target"


def _target_slugs(run: InversionRun) -> list[str]:
    """Unique file-name stems for the targets (image stems or prompts), numbered in order."""
    names = [Path(t).stem if run.kind == "features" else t for t in run.targets]
    return [f"{i:02d}-{_slug(name)}" for i, name in enumerate(names)]


def target_embeddings(run: InversionRun, model, name: str, originals: Tensor | None) -> Tensor:
    """Unit target embeddings (T, D): of the original images, or of the prompts through the text tower."""
    with torch.no_grad():
        if run.kind == "features":
            if originals is None:
                raise ValueError("a features inversion needs the original images of its targets")
            return model.features(originals.to(run.device))
        return text_tower_for_model(model, run.device).encode_text(run.targets)


def run_inversion(run: InversionRun, output_dir: str | Path, progress: bool = True) -> InversionReport:
    """Invert every target with every model and seed; write PNGs, `grid.png` and `inversion.json`."""
    run.validate()
    output_dir = Path(output_dir)
    started = time.perf_counter()
    size = run.config.image_size
    originals = torch.stack([load_image_center_crop(t, size) for t in run.targets]) if run.kind == "features" else None
    slugs = _target_slugs(run)
    pairs = [(t, s) for t in range(len(run.targets)) for s in run.seeds]  # grid columns
    bar = tqdm(total=0, desc=f"invert {run.kind}", unit="it", disable=not progress)  # grows as each model's batch size is known

    rows: list[list[Tensor]] = []
    records: list[InvertedImage] = []
    weights = "pretrained" if run.pretrained else "random"
    for name in run.models:
        model = create_model(name, pretrained=run.pretrained, device=run.device, **run.model_kwargs)
        if not model.has_embedding:
            raise ValueError(
                f"model '{name}' is a pairwise metric with no embedding to invert; choose an embedding model (CLIP, DINO, DreamSim, ...)"
            )
        targets = target_embeddings(run, model, name, originals)
        batch_size = resolve_batch_size(run.batch_size, model, size, run.device)
        bar.total += -(-len(pairs) // batch_size) * run.config.n_iter
        bar.refresh()
        row: list[Tensor] = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            index = torch.tensor([t for t, _ in chunk], device=run.device)
            bar.set_postfix(model=name)
            out = invert(model.embed, targets[index], [s for _, s in chunk], run.config, run.device, on_iteration=lambda _: bar.update(1))
            with torch.no_grad():
                grey = noisy_grey_start(len(chunk), size, [s for _, s in chunk], run.config.init_noise).to(run.device)
                start_similarity = (model.features(grey) * targets[index]).sum(dim=-1)
            for (t, seed), image, sim, sim0 in zip(chunk, out.images, out.similarity.tolist(), start_similarity.tolist()):
                path = output_dir / _slug(name) / f"{slugs[t]}-seed{seed}.png"
                save_image(image, path)
                records.append(
                    InvertedImage(name, run.targets[t], seed, str(path.relative_to(output_dir)), sim, sim0, out.history[0], out.history[-1])
                )
                row.append(image.cpu())
        rows.append(row)
        del model
    bar.close()

    column_labels = [f"{Path(run.targets[t]).stem if run.kind == 'features' else run.targets[t]} (seed {s})" for t, s in pairs]
    row_labels = list(run.models)
    if originals is not None:
        rows.insert(0, [originals[t] for t, _ in pairs])
        row_labels.insert(0, "original")
    title = f"{run.kind} inversion, {run.config.n_iter} APGD iterations, L2 radius {run.config.radius:g}"
    if not run.pretrained:
        title += f"  [{RANDOM_WEIGHTS_LABEL}]"
    grid_path = output_dir / "grid.png"
    save_grid(rows, row_labels, column_labels, grid_path, title=title)

    report = InversionReport(
        kind=run.kind,
        models=run.models,
        targets=run.targets,
        seeds=run.seeds,
        config={**asdict(run.config), "batch_size": run.batch_size, "device": run.device, "model_kwargs": run.model_kwargs},
        weights=weights,
        images=records,
        grid=str(grid_path.relative_to(output_dir)),
        timing_s={"total_s": time.perf_counter() - started},
        environment=environment(run.device),
    )
    atomic_write_text(output_dir / "inversion.json", json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def save_grid(
    rows: Sequence[Sequence[Tensor]],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    path: Path,
    title: str = "",
    cell: int = 160,
    label_width: int = 150,
) -> Path:
    """A labelled grid of (3, H, W) images in [0, 1]: a row label on the left, column labels on top."""
    font = ImageFont.load_default()
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    title_height, header_height, pad = (18 if title else 0), 28, 4
    width = label_width + n_cols * (cell + pad) + pad
    height = title_height + header_height + n_rows * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, 3), title, fill="black", font=font)
    for c, label in enumerate(column_labels):
        x = label_width + pad + c * (cell + pad)
        for line, text in enumerate(_wrap(label, cell)):
            draw.text((x, title_height + 2 + 12 * line), text, fill="black", font=font)
    for r, (label, images) in enumerate(zip(row_labels, rows)):
        y = title_height + header_height + pad + r * (cell + pad)
        for line, text in enumerate(_wrap(label, label_width - 2 * pad)):
            draw.text((pad, y + cell // 2 - 6 + 12 * line), text, fill="black", font=font)
        for c, image in enumerate(images):
            array = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            tile = Image.fromarray(array).resize(
                (cell, cell), Image.Resampling.NEAREST if array.shape[0] < cell else Image.Resampling.BICUBIC
            )
            canvas.paste(tile, (label_width + pad + c * (cell + pad), y))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())  # no half-written grid on a full disk


def _wrap(text: str, width_px: int, char_px: int = 6) -> list[str]:
    """Split `text` into at most two lines that fit `width_px` with the default bitmap font."""
    per_line = max(width_px // char_px, 4)
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > per_line:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    if len(lines) > 2:
        lines = [lines[0], (lines[1] + " " + " ".join(lines[2:]))[: per_line - 3] + "..."]
    return [line[:per_line] for line in lines]
