"""Image classification datasets for zero-shot CLIP classification (paper App. B-D, Table XI).

- `imagenet`: ImageNet-1k validation in the layout torchvision and most tools use,
  `<data root>/imagenet/val/<wnid>/*.JPEG` (1000 folders named n01440764, ...); class names are
  OpenAI's curated CLIP names (`model_zoo.zero_shot_data`).
- `imagefolder`: any torchvision `ImageFolder`-style folder, `--dataset-option path=DIR` with
  `DIR/<class>/*.jpg`. Folder names that are ImageNet WordNet ids get the CLIP names; other names
  are used as they are, underscores read as spaces. A `classnames.txt` beside the class folders
  (`<folder>\\t<class name>` per line) overrides them.

Images go through the model's own resize and centre crop (224 for every CLIP of the zoo), installed by
the runner as for detection; without a model, shorter side to 224 and the central 224 x 224. Samples are
ordered round-robin over classes, so `--n-ex N` takes a class-balanced subset; `--dataset-option
subset_ids=FILE` (`subset_ids.py`) takes exactly the images a list names, in its order, with labels from the
full set of class folders (as RobustBench's loader does).
"""

from __future__ import annotations

from pathlib import Path

import torch

from model_zoo.zero_shot_data import TEMPLATE_SETS, imagenet_classname_by_wnid

from .base import DatasetBase
from .detection import list_class_folders
from .images import DatasetError, center_crop_transform, load_image, path_inside
from .sources import DatasetSource
from .subset_ids import SubsetIds, missing_ids_message, read_subset_ids
from .verify import VerifyReport, check_images

CLASSIFICATION_IMAGE_SIZE = 224
CLASSNAMES_FILE = "classnames.txt"


def read_classnames_file(path: Path) -> dict[str, str]:
    """`classnames.txt`: `<folder>\t<class name>` per line, the names prompts use instead of folder names."""
    names = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        folder, sep, name = line.partition("\t")
        if not sep or not name.strip():
            raise DatasetError(f"{path}:{number}: expected '<folder>\\t<class name>', got {line!r}")
        names[folder.strip()] = name.strip()
    return names


def class_name_for_folder(folder: str, overrides: dict[str, str]) -> str:
    """What the prompts call a class folder: the override, else the CLIP name of an ImageNet WordNet id, else the folder name."""
    if folder in overrides:
        return overrides[folder]
    clip_names = imagenet_classname_by_wnid()
    if folder in clip_names:
        return clip_names[folder]
    return folder.replace("_", " ")


class ClassificationDataset(DatasetBase):
    """Labelled images of `root/<class>/*`; `classnames` are what the prompts say."""

    task = "classification"

    follows_model_preprocessing = True  # the runner installs the model's own resize/crop, as for detection

    def __init__(
        self,
        name: str,
        root: Path,
        split: str,
        templates: str = "openai-imagenet",
        image_size: int = CLASSIFICATION_IMAGE_SIZE,
        subset: SubsetIds | None = None,
    ):
        if templates not in TEMPLATE_SETS:
            raise DatasetError(f"unknown templates '{templates}'; choose one of {', '.join(TEMPLATE_SETS)}")
        self.name = name
        self.root = Path(root)
        self.split = split
        self.image_transform = center_crop_transform(image_size)  # until the runner installs the model's
        self.templates = TEMPLATE_SETS[templates]()
        self.template_set = templates
        folders = list_class_folders(self.root, root=self.root)  # a link leaving the folder needs --follow-links
        names_file = self.root / CLASSNAMES_FILE
        overrides = read_classnames_file(path_inside(self.root, CLASSNAMES_FILE, self.root)) if names_file.is_file() else {}
        self.folders = list(folders)
        self.classnames = [class_name_for_folder(f, overrides) for f in self.folders]
        # Round-robin over classes, so the first N samples cover the classes evenly.
        per_class = list(folders.values())
        self.samples = [
            (per_class[label][i], label)
            for i in range(max(len(p) for p in per_class))
            for label in range(len(per_class))
            if i < len(per_class[label])
        ]
        self.subset = subset
        if subset is not None:
            self.samples = self._listed_samples(subset)

    def _listed_samples(self, subset: SubsetIds) -> list[tuple[Path, int]]:
        """The images `subset` names, in its order; any that is not under the root makes one error line."""
        label_of = {folder: label for label, folder in enumerate(self.folders)}
        samples, missing = [], []
        for entry in subset.ids:
            wnid, _, filename = entry.partition("/")
            path = self.root / wnid / filename
            if wnid in label_of and path.is_file():
                samples.append((path, label_of[wnid]))
            else:
                missing.append(entry)
        if missing:
            raise DatasetError(missing_ids_message(subset, missing, self.root))
        return samples

    def protocol(self) -> dict:
        """The fixed list of images evaluated, when one was given (its name, sha256 and count)."""
        if self.subset is None:
            return {}
        return {"subset": self.subset.protocol(), "subset_ids_sha256": self.subset.sha256}

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, path: Path) -> torch.Tensor:
        """One image through the dataset's transform (the runner installs the model's own)."""
        return load_image(path, self.image_transform)

    def sample_info(self, position: int) -> dict[str, str]:
        """What the per-sample outcome file records about the sample at `position`."""
        path, label = self.samples[position]
        return {"sample_id": f"{self.folders[label]}/{path.name}", "split": self.split}

    def __getitem__(self, position: int) -> dict:
        path, label = self.samples[position]
        return {"image": self.load(path), "label": torch.tensor(label), "position": position}


def load_imagenet(
    folder: Path, split: str | None, templates: str = "openai-imagenet", subset_ids: str | None = None
) -> ClassificationDataset:
    """ImageNet-1k `<wnid>/*.JPEG` from `folder` (the data root's `imagenet/val`), optionally only the images a
    `subset_ids` list names; folders that are not WordNet ids are refused."""
    split = split or "val"
    subset = read_subset_ids(subset_ids) if subset_ids else None
    dataset = ClassificationDataset("imagenet", folder, split, templates, subset=subset)
    unknown = [f for f in dataset.folders if f not in imagenet_classname_by_wnid()]
    if unknown:
        raise DatasetError(
            f"{folder} has class folder(s) that are not ImageNet-1k WordNet ids: {', '.join(unknown[:3])}; "
            "expected val/<wnid>/*.JPEG (e.g. val/n01440764/); for other folders use --dataset imagefolder"
        )
    return dataset


def load_image_folder(
    location: Path | None, split: str | None, path: str | None = None, templates: str = "openai-imagenet"
) -> ClassificationDataset:
    """Any `DIR/<class>/*` the user names with `--dataset-option path=DIR`; it needs no data root."""
    if not path:
        raise DatasetError("dataset 'imagefolder' needs its folder: --dataset-option path=DIR (DIR/<class>/*.jpg)")
    folder = Path(path).expanduser()
    return ClassificationDataset(folder.name, folder, split or folder.name, templates)


IMAGENET_SOURCE = DatasetSource(
    manual=(
        "ImageNet-1k needs an account at https://image-net.org (ILSVRC2012_img_val.tar and the devkit's labels). Put the "
        "50,000 validation images into {root}/imagenet/val/<wnid>/*.JPEG, one folder per class named by its WordNet id "
        "(n01440764, ...), the layout torchvision's ImageNet and most preparation scripts produce."
    ),
    license="ImageNet terms of access (non-commercial research)",
    citation="Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 2015",
)


def verify_imagenet(root: Path | None, report: VerifyReport) -> None:
    """`bench data verify imagenet`: the 1000 WordNet-id folders and every image in them."""
    assert root is not None  # verify_dataset checks the folder first
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
    check_images(images, report, "images")


def verify_image_folder(root: Path | None, report: VerifyReport) -> None:
    """`bench data verify imagefolder`: nothing under the data root; the folder is the user's, checked when loaded."""
    report.facts.append("reads your own folder (--dataset-option path=DIR), checked when `bench evaluate` loads it")
