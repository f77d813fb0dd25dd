"""The CLIP text tower and the zero-shot head, on tiny random-weight towers."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest
import torch

from model_zoo import create_model, list_models
from model_zoo.text_tower import (
    TEXT_TOWER_SOURCES,
    NoTextTowerError,
    build_text_transformer,
    create_text_tower,
    load_text_weights,
    text_tower_source,
)
from model_zoo.zero_shot import ZeroShotClassifier, zero_shot_class_vectors
from model_zoo.zero_shot_data import imagenet_classname_by_wnid, imagenet_classnames, imagenet_wnids, openai_imagenet_templates


def test_every_text_tower_name_is_a_registered_clip_model():
    registered = set(list_models())
    assert set(TEXT_TOWER_SOURCES) <= registered
    assert set(list_models("clip-*")) <= set(TEXT_TOWER_SOURCES)


def test_robust_models_share_the_original_text_tower():
    assert text_tower_source("r-clip-f-convnext") is text_tower_source("clip-convnext")
    assert text_tower_source("r-clip-t-vit-l14-eps2") is text_tower_source("clip-vit-l14")


@pytest.mark.parametrize("name", ["dino-vit-b16", "lpips-alex", "r-clip-f-convnext+mlp"])
def test_models_without_a_text_tower_get_a_clear_error(name):
    with pytest.raises(NoTextTowerError, match=re.escape(f"'{name}'")):
        create_text_tower(name, pretrained=False, reduced=True)


def test_encode_text_is_unit_norm_and_matches_the_reduced_image_tower(seeded):
    tower = create_text_tower("r-clip-f-vit-b32", pretrained=False, reduced=True)
    image_model = create_model("r-clip-f-vit-b32", pretrained=False, reduced=True)
    embeddings = tower.encode_text(["an astronaut riding a horse", "a cat", "a dog"], batch_size=2)
    assert embeddings.shape == (3, image_model.embed(torch.rand(1, 3, 64, 64)).shape[-1])
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(3), atol=1e-5)
    with pytest.raises(TypeError, match="list"):
        tower.encode_text("a cat")


def test_text_weights_load_from_a_whole_open_clip_checkpoint(tmp_path, seeded):
    """A checkpoint with `visual.*`, `logit_scale` and the text keys at top level, as open_clip saves it."""
    source = text_tower_source("clip-convnext")
    donor = build_text_transformer(source, reduced=True)
    state = {**donor.state_dict(), "visual.trunk.stem.0.weight": torch.zeros(2), "logit_scale": torch.tensor(4.6)}
    from safetensors.torch import save_file

    path = tmp_path / "open_clip_model.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    tower = create_text_tower("clip-convnext", pretrained=False, reduced=True)
    load_text_weights(tower.text, path)
    tokens = tower.tokenize(["a photo of a tench."])
    assert torch.equal(tower.text(tokens), donor(tokens))

    torch.save({"visual.proj": torch.zeros(2)}, tmp_path / "image_only.bin")
    with pytest.raises(ValueError, match="image_only.bin"):
        load_text_weights(tower.text, tmp_path / "image_only.bin")


def test_zero_shot_class_vectors_average_templates_per_class(seeded):
    tower = create_text_tower("clip-vit-b16", pretrained=False, reduced=True)
    classnames, templates = imagenet_classnames()[:3], openai_imagenet_templates()[:4]
    vectors = zero_shot_class_vectors(tower, classnames, templates)
    assert vectors.shape == (3, tower.embed_dim)
    expected = torch.nn.functional.normalize(tower.encode_text([t.format(classnames[1]) for t in templates]).mean(0), dim=0)
    assert torch.allclose(vectors[1], expected, atol=1e-5)
    with pytest.raises(ValueError, match="no '\\{\\}'"):
        zero_shot_class_vectors(tower, classnames, ["a photo"])

    classifier = ZeroShotClassifier(create_model("clip-vit-b16", pretrained=False, reduced=True), vectors)
    assert classifier(torch.rand(2, 3, 64, 64)).shape == (2, 3)


def _digest(items) -> str:
    return hashlib.sha256(json.dumps(list(items)).encode()).hexdigest()


def test_imagenet_class_data_is_what_the_deleted_copy_held():
    """open_clip's names and templates and timm's WordNet ids are the lists model_zoo/zero_shot_data.py once copied.

    The digests are of that copy (OpenAI's CLIP notebook; the ILSVRC-2012 synsets), so a package that changes them fails here.
    """
    wnids, names, templates = imagenet_wnids(), imagenet_classnames(), openai_imagenet_templates()
    assert len(wnids) == len(names) == 1000 and list(wnids) == sorted(wnids)
    assert imagenet_classname_by_wnid()["n01440764"] == "tench" and names[-1] == "toilet paper"
    assert len(templates) == 80 and all(t.count("{}") == 1 for t in templates) and templates[0] == "a bad photo of a {}."
    assert _digest(wnids) == "624954f06d059ddd477ab500dc059cf2628ac01e441d8a648d1dc6fbfe504c5a"
    assert _digest(names) == "6ef5246539bb6543da0958381424e7f7b63b6758af04434f6e8f6da88e0cca70"
    assert _digest(templates) == "e30aa9d7fb289e072e361fb1b2d16a295f7cb396978685fa57a0882c96c06b0d"


def test_importing_the_zero_shot_data_loads_neither_open_clip_nor_timm():
    """The lists load on first use, so the dataset registry that imports this module stays light."""
    code = "import sys, model_zoo.zero_shot_data; print(sorted(m for m in ('open_clip', 'timm') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
