"""Fixed lists of ImageNet val images, `--dataset-option subset_ids=FILE`: RobustBench's format, one `<wnid>/<filename>` a line.

RobustVLM's zero-shot evaluation (chs20/RobustVLM, CLIP_eval/clip_robustbench.py) loads ImageNet through
`robustbench.data.load_clean_dataset`, which reads RobustBench's `helper_files/imagenet_test_image_ids.txt`
(5,000 lines such as `n09468604/ILSVRC2012_val_00015253.JPEG`, 997 classes, no trailing newline) in file
order. We do not ship that list (third-party data): the user names the file, and its sha256 says whether
it is that list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .images import DatasetError

# RobustBench's list as published at commit 78fcc9e (file unchanged since 5be8f6a, 2022-08-01); robustbench's wheel ships it too.
ROBUSTBENCH_IMAGENET_IDS_SHA256 = "d4121626d07722a0126c35b1563042e46a546f1a05ce705f2cdc635896d58574"
ROBUSTBENCH_IMAGENET_IDS_COUNT = 5000
ROBUSTBENCH_IMAGENET_IDS_NAME = "RobustBench imagenet_test_image_ids.txt (RobustVLM's zero-shot ImageNet subset)"
ROBUSTBENCH_IMAGENET_IDS_URL = (
    "https://raw.githubusercontent.com/RobustBench/robustbench/78fcc9e48a07a861268f295a777b975f25155964/"
    "robustbench/helper_files/imagenet_test_image_ids.txt"
)
HOW_TO_GET_THE_LIST = (
    f"download RobustBench's list ({ROBUSTBENCH_IMAGENET_IDS_URL}, or robustbench/helper_files/ of `pip install robustbench`) "
    "and pass --dataset-option subset_ids=FILE"
)
SHOWN_MISSING = 3  # how many missing ids an error names


@dataclass(frozen=True)
class SubsetIds:
    """A list of `<wnid>/<filename>` ids read from `path`, in file order, with the sha256 of the file's bytes."""

    path: Path
    ids: tuple[str, ...]
    sha256: str

    @property
    def is_robustbench_list(self) -> bool:
        """Whether the file is, byte for byte, RobustBench's published list (the one RobustVLM evaluates on)."""
        return self.sha256 == ROBUSTBENCH_IMAGENET_IDS_SHA256

    def protocol(self) -> dict[str, Any]:
        """What a result records about the subset: its name, sha256 and count."""
        name = ROBUSTBENCH_IMAGENET_IDS_NAME if self.is_robustbench_list else f"user list {self.path.name}"
        return {"name": name, "sha256": self.sha256, "count": len(self.ids), "file": str(self.path)}


def read_subset_ids(path: str | Path) -> SubsetIds:
    """Read a subset list; a malformed line or a repeated id is a one-line error naming the line and the format."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"subset_ids file {path} not found; {HOW_TO_GET_THE_LIST}")
    data = path.read_bytes()
    ids: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        wnid, sep, filename = entry.partition("/")
        if not sep or not wnid or not filename or "/" in filename or "\\" in entry or entry.startswith(".") or ".." in entry:
            raise DatasetError(f"{path}:{number}: expected '<wnid>/<filename>' (e.g. n01440764/ILSVRC2012_val_00000293.JPEG), got {line!r}")
        if entry in seen:
            raise DatasetError(f"{path}:{number}: '{entry}' is listed twice; each image may appear once")
        seen.add(entry)
        ids.append(entry)
    if not ids:
        raise DatasetError(f"{path} lists no ids; expected one '<wnid>/<filename>' per line")
    return SubsetIds(path, tuple(ids), hashlib.sha256(data).hexdigest())


def missing_ids_message(subset: SubsetIds, missing: list[str], root: Path) -> str:
    """One line: how many of the list's ids are not under `root`, and the first few."""
    shown = ", ".join(missing[:SHOWN_MISSING]) + (", ..." if len(missing) > SHOWN_MISSING else "")
    return (
        f"{len(missing)} of the {len(subset.ids)} ids in {subset.path} are not under {root} (first: {shown}); "
        "put those val images there (val/<wnid>/<filename>) or give a list of images you have"
    )
