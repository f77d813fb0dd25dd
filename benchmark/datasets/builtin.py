"""The datasets perceptbench knows, registered by name: each spec names the loader, source and check its module defines."""

from __future__ import annotations

from pathlib import Path

from .bapps import BAPPS_IMAGE_SIZE, BAPPS_SOURCE, BAPPS_VAL_SPLITS, load_bapps, verify_bapps
from .classification import IMAGENET_SOURCE, load_image_folder, load_imagenet, verify_image_folder, verify_imagenet
from .demo import DEMO_SPLIT, load_demo, verify_demo
from .detection import DETECTION_SOURCE, load_detection, verify_detection
from .nights import NIGHTS_SOURCE, NIGHTS_SPLITS, load_nights, verify_nights
from .registry import DatasetSpec, register_dataset
from .revisited import REVISITED_DATASETS, load_revisited, revisited_source, verify_revisited
from .things import THINGS_SOURCE, THINGS_SPLIT, load_things, verify_things

# Where the paper is silent, what we chose (benchmark/protocol_choices.py's PROTOCOL_CHOICES): the runner records them in each result.
MODEL_TRANSFORM = "model_transform_with_centre_crop"
CLEAN_WRONG = "clean_wrong_counts_as_broken"

register_dataset(
    DatasetSpec(
        name="demo",
        task="2afc",
        description="240 BAPPS-style 2AFC triplets at 64x64 built from scikit-image's photographs; no download",
        load=lambda location, split, labels="hard": load_demo(labels=labels),
        splits=(DEMO_SPLIT,),
        default_split=DEMO_SPLIT,
        options=("labels",),
        verify=verify_demo,
    )
)


def _load_bapps(location: Path, split: str | None, labels: str = "hard", image_size: int | str = BAPPS_IMAGE_SIZE):
    return load_bapps(location, splits=[split] if split else BAPPS_VAL_SPLITS, labels=labels, image_size=image_size)


register_dataset(
    DatasetSpec(
        name="bapps",
        task="2afc",
        description="BAPPS 2AFC val (Zhang et al. 2018): six splits of 64x64 triplets, upsampled to 224 and scored against the human majority (the paper's protocol)",
        load=_load_bapps,
        relative_path="bapps/2afc/val",
        splits=BAPPS_VAL_SPLITS,
        options=("labels", "image_size"),
        source=BAPPS_SOURCE,
        verify=verify_bapps,
        choices=(CLEAN_WRONG,),
    )
)

register_dataset(
    DatasetSpec(
        name="nights",
        task="2afc",
        description="NIGHTS (Fu et al. 2023): 2AFC on synthetic variations, triplets with >= 6 votes, through each model's own preprocessing",
        load=lambda location, split: load_nights(location, split or "test"),
        relative_path="nights",
        required_file="data.csv",
        splits=NIGHTS_SPLITS,
        default_split="test",
        source=NIGHTS_SOURCE,
        verify=verify_nights,
        choices=(CLEAN_WRONG,),
    )
)

register_dataset(
    DatasetSpec(
        name="things",
        task="odd-one-out",
        description="THINGS odd-one-out triplets (Hebart et al. 2020): which image is least similar to the other two",
        load=lambda location, split: load_things(location),
        relative_path="things",
        splits=(THINGS_SPLIT,),
        default_split=THINGS_SPLIT,
        source=THINGS_SOURCE,
        verify=verify_things,
        choices=("things_all_triplets",),
    )
)

register_dataset(
    DatasetSpec(
        name="detect",
        task="detection",
        description="Retrieval-based detection: nearest neighbour in a labelled pool; split = configuration folder (nsfw, guns, ...)",
        load=lambda location, split: load_detection(location / (split or "nsfw")),
        relative_path="detect",
        default_split="nsfw",
        source=DETECTION_SOURCE,
        verify=verify_detection,
        choices=(MODEL_TRANSFORM, CLEAN_WRONG),
    )
)

for _name in REVISITED_DATASETS:
    register_dataset(
        DatasetSpec(
            name=_name,
            task="retrieval",
            description=f"Revisited {'Oxford' if 'oxford' in _name else 'Paris'} (Radenovic et al. 2018): retrieval mAP, Medium and Hard",
            load=lambda location, split, _name=_name: load_revisited(location, _name),
            relative_path=f"revisited/{_name}",
            required_file=f"gnd_{_name}.pkl",
            splits=(_name,),
            default_split=_name,
            source=revisited_source(_name),
            verify=verify_revisited,
            choices=(MODEL_TRANSFORM,),
        )
    )

register_dataset(
    DatasetSpec(
        name="imagenet",
        task="classification",
        description="ImageNet-1k val (val/<wnid>/*.JPEG): zero-shot CLIP classification with OpenAI's 80 templates, at 224",
        load=load_imagenet,
        relative_path="imagenet/val",
        splits=("val",),
        default_split="val",
        options=("templates", "subset_ids"),
        source=IMAGENET_SOURCE,
        verify=verify_imagenet,
        choices=(CLEAN_WRONG,),
    )
)

register_dataset(
    DatasetSpec(
        name="imagefolder",
        task="classification",
        description="Any ImageFolder-style DIR/<class>/*.jpg (--dataset-option path=DIR): zero-shot CLIP classification",
        load=load_image_folder,
        options=("path", "templates"),
        verify=verify_image_folder,
    )
)
