"""Retrieval-based detection (paper Sec. V-A, App. B-G): labelled pool, queries and attack targets.

On disk, one folder per configuration (e.g. `detect/nsfw`, `detect/guns`):
- `pool/<class>/*`: the labelled retrieval pool; a query takes the class of its nearest neighbour;
- `query/<class>/*`: the test queries, disjoint from the pool;
- `target/<class>/*`: images of each attack-target class outside the pool (16 in the paper),
  only needed for the targeted attack of Eq. 5;
- `detection.json` (optional): `{"buffer": "sexy", "targets": {"neutral": "porn", "porn": "neutral"}}`.
  The buffer is a pool class without queries that absorbs uncertain images (the paper's B). With
  exactly two non-buffer classes and no `targets`, each class's queries are pushed towards the other.

NSFW detection and gun filtering are two such folders, not special code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from model_zoo.fetch import following_links, links_followed, sha256_of

from .base import DatasetBase
from .images import DatasetError, ImageTransform, load_image, path_inside
from .sources import DatasetSource
from .verify import VerifyReport, check_images

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
DETECTION_MANIFEST = "detection.json"
DETECTION_CONFIGS = ("nsfw", "guns")


def list_class_folders(folder: Path, root: Path | None = None) -> dict[str, list[Path]]:
    """{class: sorted image paths} of `folder/<class>/*`; empty classes are an error.

    Every image must resolve inside `root` (the dataset's folder: by default `folder`'s parent, a
    detection configuration), links resolved, unless `--follow-links` is given.
    """
    if not folder.is_dir():
        raise DatasetError(f"missing folder {folder} (expected one sub-folder of images per class)")
    root = folder.parent if root is None else root
    classes = {}
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        images = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for image in images:
            path_inside(root, image.relative_to(root).as_posix(), f"class folder {class_dir}")
        if not images:
            raise DatasetError(f"class folder {class_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        classes[class_dir.name] = images
    if not classes:
        raise DatasetError(f"{folder} has no class sub-folders (expected {folder}/<class>/*.png)")
    return classes


@dataclass
class DetectionSetup:
    """A detection configuration's classes, its buffer class and each query class's attack target (`detection.json`)."""

    classes: list[str]  # pool classes, in label order
    buffer: str | None = None
    targets: dict[str, str] = field(default_factory=dict)  # query class -> attack target class


def read_detection_setup(root: Path, pool_classes: list[str], query_classes: list[str]) -> DetectionSetup:
    """The configuration from `detection.json` (optional), checked against the pool and query folders."""
    manifest_path = root / DETECTION_MANIFEST
    manifest: dict = {}
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DatasetError(f"cannot read {manifest_path}: {error}") from error
        if not isinstance(manifest, dict) or set(manifest) - {"buffer", "targets"}:
            raise DatasetError(f"{manifest_path} must be an object with optional keys 'buffer' and 'targets', got {manifest!r}")
    buffer = manifest.get("buffer")
    if buffer is not None and buffer not in pool_classes:
        raise DatasetError(f"{manifest_path}: buffer class '{buffer}' has no pool/{buffer}/ folder")
    unknown = [c for c in query_classes if c not in pool_classes]
    if unknown:
        raise DatasetError(f"query class(es) {', '.join(unknown)} under {root / 'query'} have no pool folder; add pool/<class>/")
    targets = manifest.get("targets")
    if targets is None:
        labelled = [c for c in pool_classes if c != buffer]
        targets = {labelled[0]: labelled[1], labelled[1]: labelled[0]} if len(labelled) == 2 else {}
    for source, target in targets.items():
        if target not in pool_classes or target == source:
            raise DatasetError(f"{manifest_path}: target of '{source}' must be another pool class, got '{target}'")
    return DetectionSetup(classes=list(pool_classes), buffer=buffer, targets=dict(targets))


class DetectionDataset(DatasetBase):
    """The query images (what is evaluated and attacked); the pool and targets ride along."""

    task = "detection"

    follows_model_preprocessing = True  # pool, targets and queries alike, as THINGS and NIGHTS in the paper's code

    def __init__(self, name: str, root: Path, image_transform: ImageTransform | None = None):
        self.name = name
        self.root = Path(root)
        self.image_transform = image_transform
        self.follow_links = links_followed()  # targets are listed later, by the task, under the same setting
        self.pool = list_class_folders(self.root / "pool")
        query = list_class_folders(self.root / "query")
        self.setup = read_detection_setup(self.root, list(self.pool), list(query))
        self.queries = [(path, label) for label, paths in query.items() for path in paths]

    @property
    def classes(self) -> list[str]:
        """Pool classes in label order (a query's label is its class's index here)."""
        return self.setup.classes

    def pool_items(self) -> list[tuple[Path, int]]:
        """Every pool image with its label, for the task to embed once."""
        return [(path, self.classes.index(label)) for label, paths in self.pool.items() for path in paths]

    def target_images(self, target_class: str) -> list[Path]:
        """Attack targets of `target_class`, from `target/<class>/` (outside the pool)."""
        folder = self.root / "target" / target_class
        if not folder.is_dir():
            raise DatasetError(f"missing {folder}: the targeted attack needs images of '{target_class}' outside the pool")
        with following_links(self.follow_links):
            return list_class_folders(self.root / "target")[target_class]

    def load(self, path: Path) -> torch.Tensor:
        """One image through the dataset's transform (pool, target or query alike)."""
        return load_image(path, self.image_transform)

    def __len__(self) -> int:
        return len(self.queries)

    def sample_info(self, position: int) -> dict[str, str]:
        """What the per-sample outcome file records about the query at `position`."""
        path, label = self.queries[position]
        # Split "<configuration>-<class>-query" (e.g. nsfw-neutral-query): the rows of the paper's Table III.
        return {"sample_id": f"{label}/{path.name}", "split": f"{self.root.name}-{label}-query"}

    def __getitem__(self, position: int) -> dict:
        path, label = self.queries[position]
        return {"image": self.load(path), "label": torch.tensor(self.classes.index(label)), "position": position}


def load_detection(root: Path, name: str = "detect") -> DetectionDataset:
    """One detection configuration folder (`detect/<configuration>`: pool/, query/, target/)."""
    return DetectionDataset(name, root)


DETECTION_SOURCE = DatasetSource(
    manual=(
        "Retrieval-based detection sets are assembled by hand, one folder per configuration under {root}/detect/: "
        "pool/<class>/*, query/<class>/* (disjoint from the pool), target/<class>/* (attack targets outside the pool, "
        '16 per class in the paper) and an optional detection.json ({{"buffer": ..., "targets": {{...}}}}). '
        "Paper's NSFW set (detect/nsfw): 500 pool images each of 'neutral' (safe), 'porn' (unsafe) and 'sexy' "
        "(buffer) from https://huggingface.co/datasets/deepghs/nsfw_detect, 1000 disjoint queries each for neutral "
        'and porn, detection.json {{"buffer": "sexy"}}. Gun filtering (detect/guns, paper App. B-G, Table X), no buffer: '
        "pool/unsafe/ 500 Flickr images tagged handgun, pistol, assault rifle, rifle, shotgun, sniper, bazooka, glock, "
        "klashnikov; pool/safe/ 500 Flickr images tagged Dog, Cat, Bird, Fish, Horse, Cow, Pig, Rabbit, Chicken, Chair, "
        "Table, Pen, Notebook, Bottle, Backpack, Lamp, Wallet, Keys, Clock; query/unsafe/ the ImageNet train images of "
        "assault_rifle, rifle, revolver (4k); query/safe/ 10k ImageNet train images of desktop_computer, car_wheel, "
        "frilled_lizard, lorikeet, snowplow, otter, fire_engine, koala, tusker, African_hunting_dog; target/safe/ and "
        "target/unsafe/ 16 images each outside the pool."
    ),
    notes=("the paper's exact image samples were not published; results depend on the sample",),
)


def content_hashes(paths) -> dict[str, Path]:
    return {sha256_of(Path(p)): p for p in paths}


def verify_detection(root: Path | None, report: VerifyReport) -> None:
    """`bench data verify detect`: every configuration's pool, queries and targets, and that they do not overlap."""
    assert root is not None  # verify_dataset checks the folder first
    configurations = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not configurations:
        report.problems.append(f"no configuration folders under {root} (expected e.g. {root / 'nsfw'}/pool/<class>/)")
    for folder in configurations:
        try:
            dataset = DetectionDataset(folder.name, folder)
        except DatasetError as error:
            report.problems.append(str(error))
            continue
        pool = {c: len(v) for c, v in dataset.pool.items()}
        queries = {c: sum(1 for _, label in dataset.queries if label == c) for c in dataset.classes}
        report.facts.append(
            f"{folder.name}: pool {pool}, queries {queries}, buffer {dataset.setup.buffer}, targets {dataset.setup.targets}"
        )
        check_images(
            [p for paths in dataset.pool.values() for p in paths] + [p for p, _ in dataset.queries], report, f"{folder.name} images"
        )
        pool_hashes = content_hashes(p for paths in dataset.pool.values() for p in paths)
        overlap = [p for h, p in content_hashes(p for p, _ in dataset.queries).items() if h in pool_hashes]
        if overlap:
            report.problems.append(f"{folder.name}: {len(overlap)} query image(s) also in the pool, e.g. {overlap[0]}")
        for target_class in sorted(set(dataset.setup.targets.values())):
            try:
                targets = dataset.target_images(target_class)
            except DatasetError as error:
                report.problems.append(f"{folder.name}: {error}")
                continue
            check_images(targets, report, f"{folder.name} target images")
            overlap = [p for h, p in content_hashes(targets).items() if h in pool_hashes]
            report.facts.append(f"{folder.name}: {len(targets)} attack targets of '{target_class}'")
            if overlap:
                report.problems.append(f"{folder.name}: target image {overlap[0]} is also in the pool (targets must lie outside it)")
