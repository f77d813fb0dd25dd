"""Revisited Oxford and Paris (Radenovic et al. 2018): image retrieval with Medium/Hard protocols.

On disk, under `revisited/<name>/` (`roxford5k` or `rparis6k`, the layout of the authors' download
script): `gnd_<name>.pkl` and `jpg/<image>.jpg`. The pickle holds `imlist` (database images),
`qimlist` (queries) and `gnd`, one entry per query with `easy`, `hard` and `junk` (indices into
`imlist`) and `bbx` (the query's box x1, y1, x2, y2). Queries are cropped to their box, as the
revisited protocol prescribes; all images are evaluated at 224x224, single scale (paper App. B-F).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import DatasetBase
from .images import DatasetError, ImageTransform, load_image, path_inside
from .sources import DatasetSource, Download
from .verify import VerifyReport, check_images

REVISITED_DATASETS = ("roxford5k", "rparis6k")
REVISITED_COUNTS = {"roxford5k": (4993, 70), "rparis6k": (6322, 70)}  # (database images, queries)
GND_KEYS = ("easy", "hard", "junk", "bbx")

# The pickles hold lists, dicts and numpy arrays; nothing else may be built while reading one.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _GroundTruthUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a ground-truth file holds only lists and arrays")


@dataclass(frozen=True)
class QueryGroundTruth:
    """One query's easy, hard and junk database indices and its box, as `gnd_<name>.pkl` holds them."""

    easy: tuple[int, ...]
    hard: tuple[int, ...]
    junk: tuple[int, ...]
    bbx: tuple[float, float, float, float] | None


def read_ground_truth(path: Path) -> tuple[list[str], list[str], list[QueryGroundTruth]]:
    """(imlist, qimlist, per-query ground truth) from a `gnd_<name>.pkl`, checked for consistency."""
    if not path.is_file():
        raise DatasetError(f"ground-truth file not found: {path} (`bench data download` fetches it)")
    try:
        with path.open("rb") as handle:
            data = _GroundTruthUnpickler(handle).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as error:
        raise DatasetError(f"cannot read ground-truth pickle {path}: {error}") from error
    if not isinstance(data, dict) or not all(k in data for k in ("imlist", "qimlist", "gnd")):
        raise DatasetError(f"{path} must be a dict with 'imlist', 'qimlist' and 'gnd'")
    imlist, qimlist, gnd = list(data["imlist"]), list(data["qimlist"]), list(data["gnd"])
    if len(gnd) != len(qimlist):
        raise DatasetError(f"{path}: {len(gnd)} 'gnd' entries for {len(qimlist)} queries")
    truths = []
    for q, entry in enumerate(gnd):
        if not isinstance(entry, dict) or any(k not in entry for k in GND_KEYS[:3]):
            raise DatasetError(f"{path}: gnd[{q}] must hold 'easy', 'hard' and 'junk' index lists")
        lists = {k: tuple(int(i) for i in np.asarray(entry[k]).reshape(-1)) for k in GND_KEYS[:3]}
        bad = [i for values in lists.values() for i in values if not 0 <= i < len(imlist)]
        if bad:
            raise DatasetError(f"{path}: gnd[{q}] names image index {bad[0]}, outside imlist (0..{len(imlist) - 1})")
        bbx = entry.get("bbx")
        box = tuple(float(v) for v in np.asarray(bbx).reshape(-1)) if bbx is not None else None
        if box is not None and len(box) != 4:
            raise DatasetError(f"{path}: gnd[{q}]['bbx'] must be x1, y1, x2, y2, got {bbx!r}")
        truths.append(QueryGroundTruth(bbx=box, **lists))
    return imlist, qimlist, truths


class RetrievalDataset(DatasetBase):
    """The queries (evaluated and attacked); the database images are read by the task's `prepare`."""

    task = "retrieval"

    # Single scale at the model's 224x224 input (paper App. B: "we always evaluate with image size
    # 224x224 with single-scale"), through the model's own transform; queries cropped to their box first.
    follows_model_preprocessing = True

    def __init__(self, name: str, root: Path, image_transform: ImageTransform | None = None):
        self.name = name
        self.root = Path(root)
        self.image_transform = image_transform
        self.imlist, self.qimlist, self.ground_truth = read_ground_truth(self.root / f"gnd_{name}.pkl")
        for image_name in self.imlist + self.qimlist:  # a name leaving jpg/ is refused now, not mid-evaluation
            self.image_path(image_name)

    def image_path(self, image_name: str) -> Path:
        """The file of an image named in the ground truth, refused when the name leaves `jpg/`."""
        return path_inside(self.root / "jpg", f"{image_name}.jpg", self.root / f"gnd_{self.name}.pkl")

    def database_image(self, index: int) -> torch.Tensor:
        """Database image `index` through the dataset's transform (read by the task's `prepare`)."""
        return load_image(self.image_path(self.imlist[index]), self.image_transform)

    def __len__(self) -> int:
        return len(self.qimlist)

    def sample_info(self, position: int) -> dict[str, str]:
        """What the per-sample outcome file records about the query at `position`."""
        return {"sample_id": self.qimlist[position], "split": self.name}

    def __getitem__(self, position: int) -> dict:
        image = load_image(self.image_path(self.qimlist[position]), self.image_transform, box=self.ground_truth[position].bbx)
        return {"image": image, "position": position}


def load_revisited(root: Path, name: str) -> RetrievalDataset:
    """Revisited Oxford or Paris from `root` (the folder holding `gnd_<name>.pkl` and `jpg/`)."""
    if name not in REVISITED_DATASETS:
        raise DatasetError(f"unknown revisited dataset '{name}'; choose one of {', '.join(REVISITED_DATASETS)}")
    return RetrievalDataset(name, root)


REVISITED_GND = "https://cmp.felk.cvut.cz/revisitop/data/datasets/{name}/gnd_{name}.pkl"
REVISITED_IMAGES = {
    "roxford5k": ("https://www.robots.ox.ac.uk/~vgg/data/oxbuildings/oxbuild_images-v1.tgz",),
    "rparis6k": (
        "https://www.robots.ox.ac.uk/~vgg/data/parisbuildings/paris_1-v1.tgz",
        "https://www.robots.ox.ac.uk/~vgg/data/parisbuildings/paris_2-v1.tgz",
    ),
}


def revisited_source(name: str) -> DatasetSource:
    """Where revisited Oxford or Paris comes from: the authors' ground truth and the original image archives."""
    return DatasetSource(
        downloads=(
            Download(REVISITED_GND.format(name=name), destination=f"revisited/{name}", filename=f"gnd_{name}.pkl"),
            *(Download(url, destination=f"revisited/{name}/jpg", flatten=True) for url in REVISITED_IMAGES[name]),
        ),
        citation="Radenovic et al., Revisiting Oxford and Paris: Large-Scale Image Retrieval Benchmarking, CVPR 2018",
    )


def verify_revisited(root: Path | None, report: VerifyReport) -> None:
    """`bench data verify roxford5k|rparis6k`: the ground truth's counts and every image it names."""
    assert root is not None  # verify_dataset checks the folder first
    name = report.name
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
    check_images([dataset.image_path(n) for n in dataset.imlist + dataset.qimlist], report, "images under jpg/")
