"""Zero-shot classification data: ImageNet's 1000 classes (WordNet id, CLIP class name) and the prompts.

Each fact is read from the package that ships it, never copied here: the class names are the curated
ones OpenAI published with CLIP (its "Prompt_Engineering_for_ImageNet" notebook), and its 80 prompt
templates, both as open_clip ships them (`open_clip.zero_shot_metadata`); the WordNet ids are
ImageNet-1k's in index order (sorted, as the `val/<wnid>/` folders sort), as timm ships them
(`timm.data.ImageNetInfo`, its `imagenet_synsets.txt`). Both packages import torch, so each list loads
on first use: importing this module (and the datasets that name it) costs nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

# The single prompt CLIP papers use when one template is wanted (paper Sec. II: "A photo of <class k>").
# open_clip's SIMPLE_IMAGENET_TEMPLATES is another list (7 templates), so this one is ours.
SIMPLE_TEMPLATES: tuple[str, ...] = ("a photo of a {}.",)


@functools.cache
def imagenet_wnids() -> tuple[str, ...]:
    """ImageNet-1k's 1000 WordNet ids in class-index order (timm's copy of the ILSVRC-2012 synsets)."""
    from timm.data import ImageNetInfo

    return tuple(ImageNetInfo("imagenet-1k").label_names())


@functools.cache
def imagenet_classnames() -> tuple[str, ...]:
    """OpenAI's curated CLIP name of each ImageNet-1k class, in class-index order (open_clip's copy)."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    return tuple(IMAGENET_CLASSNAMES)


@functools.cache
def imagenet_classname_by_wnid() -> dict[str, str]:
    """WordNet id -> CLIP class name; an error if the two packages disagree on the number of classes."""
    wnids, names = imagenet_wnids(), imagenet_classnames()
    if len(wnids) != len(names):
        raise RuntimeError(
            f"timm lists {len(wnids)} ImageNet-1k WordNet ids but open_clip {len(names)} class names; "
            "reinstall them (pip install -U timm open_clip_torch)"
        )
    return dict(zip(wnids, names))


@functools.cache
def openai_imagenet_templates() -> tuple[str, ...]:
    """OpenAI's 80 ImageNet prompt templates with `{}` for the class name (open_clip stores them as functions)."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    return tuple(template("{}") for template in OPENAI_IMAGENET_TEMPLATES)


def simple_templates() -> tuple[str, ...]:
    """The one-prompt set, for the same call shape as `openai_imagenet_templates`."""
    return SIMPLE_TEMPLATES


# `--dataset-option templates=NAME` -> the templates it names, loaded when a dataset is built.
TEMPLATE_SETS: dict[str, Callable[[], tuple[str, ...]]] = {
    "openai-imagenet": openai_imagenet_templates,
    "simple": simple_templates,
}
