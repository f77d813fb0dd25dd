"""Writers of tiny datasets in exactly the real on-disk formats, for the loader and task tests."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

NIGHTS_HEADER = ["id", "left_vote", "right_vote", "votes", "ref_path", "left_path", "right_path", "split", "is_imagenet", "prompt"]


def write_png(path: Path, seed: int, size: int = 32, colour: tuple[int, int, int] | None = None, noise: int = 12) -> Path:
    """A small RGB PNG: random texture, or a noisy flat colour when `colour` is given."""
    rng = np.random.default_rng(seed)
    if colour is None:
        array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    else:
        array = np.clip(np.array(colour, dtype=np.int16) + rng.integers(-noise, noise + 1, (size, size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_nights(root: Path, rows: list[dict]) -> Path:
    """`root/nights/` with data.csv (real columns plus an extra `prompt`) and ref/, distort/ PNGs."""
    nights = root / "nights"
    for index, row in enumerate(rows):
        stem = f"{index:03d}"
        row.setdefault("id", index)
        row.setdefault("ref_path", f"ref/000/{stem}.png")
        row.setdefault("left_path", f"distort/000/{stem}_0.png")
        row.setdefault("right_path", f"distort/000/{stem}_1.png")
        row.setdefault("prompt", "a photo")
        for n, key in enumerate(("ref_path", "left_path", "right_path")):
            write_png(nights / row[key], seed=10 * index + n)
    with (nights / "data.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=NIGHTS_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return nights


def write_bapps_split(val_root: Path, split: str, judges: list[float]) -> Path:
    folder = val_root / split
    for index, judge in enumerate(judges):
        stem = f"{index:06d}"
        for n, sub in enumerate(("ref", "p0", "p1")):
            write_png(folder / sub / f"{stem}.png", seed=100 * index + n, size=16)
        (folder / "judge").mkdir(parents=True, exist_ok=True)
        np.save(folder / "judge" / f"{stem}.npy", np.array([judge], dtype=np.float32))
    return folder


def write_things(root: Path, n_images: int, triplets: list[tuple[int, int, int, int]], colours=None) -> Path:
    """`root/things/` with Images/, the image list and a tab-separated triplet file with its header."""
    things = root / "things"
    lines = []
    for index in range(n_images):
        relative = f"concept_{index:02d}/concept_{index:02d}_01b.jpg"
        colour = colours[index] if colours else None
        path = things / "Images" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(index)
        base = rng.integers(0, 256, (24, 24, 3)) if colour is None else np.array(colour)[None, None] + rng.integers(-8, 9, (24, 24, 3))
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(path, quality=95)
        lines.append(relative)
    (things / "things_first_imgs_idx.txt").write_text("\n".join(lines) + "\n")
    body = ["image1\timage2\timage3\tchoice\tRT\tsubject_id"]
    body += [f"{a}\t{b}\t{c}\t{choice}\t1234.5\tS{n}" for n, (a, b, c, choice) in enumerate(triplets)]
    (things / "triplets_large_final_correctednc_correctedorder.csv").write_text("\n".join(body) + "\n")
    return things


def write_detection(
    root: Path, layout: dict[str, dict[str, list[tuple[int, int, int]]]], manifest: dict | None = None, noise: int = 12
) -> Path:
    """`root` with pool/<class>/, query/<class>/, target/<class>/ PNGs of given flat colours."""
    seed = 0
    for part, classes in layout.items():
        for name, colours in classes.items():
            for index, colour in enumerate(colours):
                seed += 1
                write_png(root / part / name / f"{name}_{index:03d}.png", seed=seed, size=24, colour=colour, noise=noise)
    if manifest is not None:
        (root / "detection.json").write_text(json.dumps(manifest))
    return root


def write_revisited(
    root: Path, name: str, imlist: list[str], qimlist: list[str], gnd: list[dict], colours: dict[str, tuple], noise: int = 12
) -> Path:
    """`root/revisited/<name>/` with gnd_<name>.pkl (numpy index arrays, as distributed) and jpg/."""
    folder = root / "revisited" / name
    for image_name in imlist + qimlist:
        write_png(folder / "jpg" / f"{image_name}.png", seed=len(image_name), size=40, colour=colours[image_name], noise=noise)
        (folder / "jpg" / f"{image_name}.png").rename(folder / "jpg" / f"{image_name}.jpg")  # lossless, named as distributed
    entries = [{k: (np.array(v, dtype=np.int64) if k != "bbx" else v) for k, v in entry.items()} for entry in gnd]
    with (folder / f"gnd_{name}.pkl").open("wb") as handle:
        pickle.dump({"imlist": imlist, "qimlist": qimlist, "gnd": entries}, handle)
    return folder


def write_imagenet(root: Path, classes: dict[str, int], size: int = 40, split: str = "train") -> Path:
    """`root/<split>/<wnid>/<wnid>_<n>.JPEG`, ImageNet's layout: JPEGs of a noisy class colour per wnid."""
    rng = np.random.default_rng(0)
    for wnid, count in sorted(classes.items()):
        colour = rng.integers(40, 216, 3)
        for n in range(count):
            array = np.clip(colour[None, None] + rng.integers(-30, 31, (size, size + 8, 3)), 0, 255).astype(np.uint8)
            path = root / split / wnid / f"{wnid}_{n}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(path, format="JPEG", quality=95)
    return root


def write_installed_distribution(
    site: Path, module: str, source: str, entry_points: dict[str, str], group: str = "perceptbench.models"
) -> Path:
    """A third-party distribution as pip leaves it in `site`: `module.py`, and a dist-info with METADATA, the
    entry points of `group` (models by default) and a RECORD listing the module (so its `module:factory` names count as its own)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    dist_info = site / f"{module}-0.1.dist-info"
    dist_info.mkdir()
    name = module.replace("_", "-")
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "".join(f"{entry} = {target}\n" for entry, target in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[{group}]\n" + lines)
    (dist_info / "RECORD").write_text(f"{module}.py,,\n{dist_info.name}/METADATA,,\n")
    return site


def replace_dataset_source(monkeypatch, name: str, **changes):
    """Registered dataset `name` with its `DatasetSpec.source` changed (e.g. `downloads=` served from a local file), for one test."""
    import dataclasses

    from benchmark.datasets import registry

    spec = registry.get_dataset_spec(name)
    monkeypatch.setitem(registry._DATASETS, name, dataclasses.replace(spec, source=dataclasses.replace(spec.source, **changes)))
    return spec.source
