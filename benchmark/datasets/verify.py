"""Check a local copy of a dataset: the files its loader needs, their counts and formats.

Each check reads the real on-disk format through the dataset's own loader, then counts what the
loader does not open up front (every image a csv or list names, per-folder counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from model_zoo.fetch import sha256_of

from .bapps import BAPPS_VAL_SPLITS, IMAGE_SUFFIXES, read_bapps_split
from .detection import DetectionDataset, list_class_folders
from .images import DatasetError
from .nights import NIGHTS_SPLITS, read_nights_csv
from .revisited import REVISITED_COUNTS, REVISITED_DATASETS, RetrievalDataset
from .things import THINGS_IMAGE_DIR, THINGS_IMAGE_LIST, THINGS_TRIPLETS, read_image_list, read_things_triplets

THINGS_CONCEPTS = 1854


@dataclass
class VerifyReport:
    """What `bench data verify` found for one dataset: facts that hold and problems to fix."""

    name: str
    location: Path
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems


def _undecodable(path: Path) -> str | None:
    """Why the image at `path` cannot be decoded to its last pixel (None when it can): a header alone says nothing of a truncated file."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:  # UnidentifiedImageError is an OSError
        return f"{type(error).__name__}: {error}"
    return None


def _check_images(paths, report: VerifyReport, what: str) -> None:
    """Every image present and decoded in full; the first missing and the first damaged one named, one line each."""
    unique = list(dict.fromkeys(Path(p) for p in paths))
    present = [p for p in unique if p.is_file()]
    if len(present) < len(unique):
        missing = [p for p in unique if not p.is_file()]
        report.problems.append(f"{len(missing)} {what} missing, e.g. {missing[0]}")
    damaged = [(p, why) for p in present if (why := _undecodable(p)) is not None]
    if damaged:
        path, why = damaged[0]
        report.problems.append(f"{len(damaged)} {what} cannot be decoded, e.g. {path} ({why}); download the dataset again")


def _verify_nights(root: Path, report: VerifyReport) -> None:
    for split in NIGHTS_SPLITS:
        try:
            triplets = read_nights_csv(root / "data.csv", split)
        except DatasetError as error:
            report.problems.append(str(error))
            if "lacks column" in str(error) or "not found" in str(error):
                return
            continue
        report.facts.append(f"{split}: {len(triplets)} triplets with >= 6 votes")
        _check_images([p for t in triplets for p in (t.reference, t.candidate_0, t.candidate_1)], report, f"{split} images")


def _verify_bapps(root: Path, report: VerifyReport) -> None:
    for split in BAPPS_VAL_SPLITS:
        try:
            triplets = read_bapps_split(root / split, split)
        except DatasetError as error:
            report.problems.append(str(error))
            continue
        counts = {
            f: sum(1 for p in (root / split / f).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + (".npy",))
            for f in ("ref", "p0", "p1", "judge")
        }
        report.facts.append(f"{split}: {len(triplets)} triplets (files: {counts})")
        _check_images([p for t in triplets for p in (t.reference, t.candidate_0, t.candidate_1)], report, f"{split} images")
        if len(set(counts.values())) != 1:
            report.problems.append(f"{root / split}: ref/, p0/, p1/ and judge/ hold different numbers of files {counts}")


def _verify_things(root: Path, report: VerifyReport) -> None:
    try:
        images = read_image_list(root / THINGS_IMAGE_LIST, root / THINGS_IMAGE_DIR)
        triplets = read_things_triplets(root / THINGS_TRIPLETS, images)
    except DatasetError as error:
        report.problems.append(str(error))
        return
    report.facts.append(f"{len(images)} images listed, {len(triplets)} triplets")
    if len(images) != THINGS_CONCEPTS:
        report.problems.append(f"{root / THINGS_IMAGE_LIST} lists {len(images)} images; the distributed list has {THINGS_CONCEPTS}")
    _check_images(images, report, "listed images")


def _content_hashes(paths) -> dict[str, Path]:
    return {sha256_of(Path(p)): p for p in paths}


def _verify_imagenet(root: Path, report: VerifyReport) -> None:
    from model_zoo.zero_shot_data import imagenet_wnids

    try:
        classes = list_class_folders(root, root=root)
    except DatasetError as error:
        report.problems.append(str(error))
        return
    folders = set(classes)
    wnids = set(imagenet_wnids())
    missing, unknown = sorted(wnids - folders), sorted(folders - wnids)
    images = [p for paths in classes.values() for p in paths]
    report.facts.append(f"{len(folders)} class folders, {len(images)} images (ImageNet-1k val: 1000 and 50000)")
    if missing:
        report.problems.append(f"{len(missing)} of the 1000 WordNet-id folders are missing under {root}, e.g. {missing[0]}")
    if unknown:
        report.problems.append(f"folders that are not ImageNet-1k WordNet ids under {root}, e.g. {unknown[0]}")
    _check_images(images, report, "images")


def _verify_detection(root: Path, report: VerifyReport) -> None:
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
        _check_images(
            [p for paths in dataset.pool.values() for p in paths] + [p for p, _ in dataset.queries], report, f"{folder.name} images"
        )
        pool_hashes = _content_hashes(p for paths in dataset.pool.values() for p in paths)
        overlap = [p for h, p in _content_hashes(p for p, _ in dataset.queries).items() if h in pool_hashes]
        if overlap:
            report.problems.append(f"{folder.name}: {len(overlap)} query image(s) also in the pool, e.g. {overlap[0]}")
        for target_class in sorted(set(dataset.setup.targets.values())):
            try:
                targets = dataset.target_images(target_class)
            except DatasetError as error:
                report.problems.append(f"{folder.name}: {error}")
                continue
            _check_images(targets, report, f"{folder.name} target images")
            overlap = [p for h, p in _content_hashes(targets).items() if h in pool_hashes]
            report.facts.append(f"{folder.name}: {len(targets)} attack targets of '{target_class}'")
            if overlap:
                report.problems.append(f"{folder.name}: target image {overlap[0]} is also in the pool (targets must lie outside it)")


def _verify_revisited(name: str, root: Path, report: VerifyReport) -> None:
    try:
        dataset = RetrievalDataset(name, root)
    except DatasetError as error:
        report.problems.append(str(error))
        return
    expected_db, expected_q = REVISITED_COUNTS[name]
    report.facts.append(f"{len(dataset.imlist)} database images, {len(dataset.qimlist)} queries")
    if (len(dataset.imlist), len(dataset.qimlist)) != (expected_db, expected_q):
        report.problems.append(
            f"ground truth lists {len(dataset.imlist)}/{len(dataset.qimlist)} images/queries; {name} has {expected_db}/{expected_q}"
        )
    _check_images([dataset.image_path(n) for n in dataset.imlist + dataset.qimlist], report, "images under jpg/")


def verify_dataset(name: str, data_root: Path) -> VerifyReport:
    """A report of what is present and what is missing or malformed in `data_root`'s copy of `name`."""
    locations = {"nights": "nights", "bapps": "bapps/2afc/val", "things": "things", "detect": "detect", "imagenet": "imagenet/val"}
    locations.update({n: f"revisited/{n}" for n in REVISITED_DATASETS})
    if name not in locations:
        raise DatasetError(f"cannot verify '{name}'; known: {', '.join(sorted(locations))}")
    root = Path(data_root) / locations[name]
    report = VerifyReport(name, root)
    if not root.exists():
        report.problems.append(f"{root} does not exist (`bench data download {name}` fetches it or says where to put it)")
        return report
    if name == "nights":
        _verify_nights(root, report)
    elif name == "bapps":
        _verify_bapps(root, report)
    elif name == "things":
        _verify_things(root, report)
    elif name == "detect":
        _verify_detection(root, report)
    elif name == "imagenet":
        _verify_imagenet(root, report)
    else:
        _verify_revisited(name, root, report)
    return report
