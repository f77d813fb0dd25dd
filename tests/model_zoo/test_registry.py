import functools

import pytest
import torch

from model_zoo import PerceptualModel, UnknownModelError, create_model, get_model_card, list_models, register_model
from model_zoo.registry import list_pretrained
from tests.conftest import small_model_kwargs


@functools.cache
def _random_weight_model(name: str) -> PerceptualModel:
    """Each zoo model built once per session (tiny configuration, seeded); tests only read it."""
    torch.manual_seed(0)
    try:
        return create_model(name, pretrained=False, **small_model_kwargs(name))
    except ImportError as error:  # an optional backend (pyiqa: `perceptbench[iqa]`) that this machine lacks
        if "perceptbench[" not in str(error):
            raise
        pytest.skip(str(error))


@pytest.mark.parametrize("name", list_models())
def test_every_model_builds_and_gives_finite_similarity_with_gradient(name):
    torch.manual_seed(0)
    model = _random_weight_model(name)
    assert isinstance(model, PerceptualModel)
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    y = torch.rand(2, 3, 64, 64)
    sim = model.sim(x, y)
    assert sim.shape == (2,)
    low, high = model.sim_range
    assert torch.isfinite(sim).all()
    assert low is None or (sim >= low - 1e-5).all()
    assert high is None or (sim <= high + 1e-5).all()
    if model.is_differentiable:
        (grad,) = torch.autograd.grad(sim.sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    if model.identity_is_best:
        assert torch.allclose(model.distance(y, y), torch.zeros(2), atol=1e-2)
    if model.has_embedding:
        assert model.embed(y).ndim == 2


@pytest.mark.parametrize("name", list_models())
def test_compare_with_cached_features_equals_sim(name):
    torch.manual_seed(0)
    model = _random_weight_model(name)
    x, a, b = (torch.rand(3, 3, 64, 64) for _ in range(3))
    logits = model.compare(x, [model.features(a), model.features(b)])
    assert torch.allclose(logits[:, 0], model.sim(x, a), atol=1e-5)
    assert torch.allclose(logits[:, 1], model.sim(x, b), atol=1e-5)


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match="did you mean 'ssim'"):
        create_model("ssmi")
    with pytest.raises(UnknownModelError, match="did you mean 'clip-convnext'"):
        create_model("clip-convnxt")


def test_weightless_metrics_are_labelled_as_such():
    assert create_model("ssim").weights_kind == "none"
    assert create_model("clip-convnext", pretrained=False, reduced=True).weights_kind == "random"


def test_list_models_filters_with_shell_patterns():
    assert list_models("clip-*") == [n for n in list_models() if n.startswith("clip-")]
    assert "ssim" not in list_models("clip-*")


def test_register_model_adds_a_metric_with_its_card():
    from model_zoo.pixel import PixelL2

    @register_model("test-pixel-copy")
    def factory(pretrained: bool = True):
        return PixelL2()

    assert "test-pixel-copy" in list_models()
    assert get_model_card("test-pixel-copy").family == "custom"
    assert create_model("test-pixel-copy").sim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)).item() == 1.0


def test_module_colon_factory_names_load_third_party_models():
    model = create_model("model_zoo.pixel:pixel_l2")
    assert model.sim(torch.ones(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)).item() == pytest.approx(0.0)
    with pytest.raises(UnknownModelError, match="no callable"):
        create_model("model_zoo.pixel:nothing_here")


# What a metric is lives on its class (torchmetrics-style); these read it generically over the registry.


def _pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Image pairs from ordinary to extreme (black against white), all in [0, 1]."""
    generator = torch.Generator().manual_seed(1)
    noise = torch.rand(2, 3, 64, 64, generator=generator)
    return [
        (noise, torch.rand(2, 3, 64, 64, generator=generator)),
        (torch.zeros(2, 3, 64, 64), torch.ones(2, 3, 64, 64)),
        (noise, 1 - noise),
    ]


@pytest.mark.parametrize("name", list_models())
def test_sim_lies_in_the_range_the_class_declares(name):
    model = _random_weight_model(name)
    low, high = model.sim_range
    assert model.metric_properties()["sim_range"] == [low, high]
    for x, y in _pairs():
        with torch.no_grad():
            sim = model.sim(x, y)
        assert torch.isfinite(sim).all()
        assert low is None or (sim >= low - 1e-5).all(), f"{name}: sim {sim.tolist()} below {low}"
        assert high is None or (sim <= high + 1e-5).all(), f"{name}: sim {sim.tolist()} above {high}"


@pytest.mark.parametrize("name", list_models())
def test_an_image_is_most_similar_to_itself(name):
    """Where a metric claims it (`identity_is_best`); a learned head that does not claim it still scores identity finitely."""
    model = _random_weight_model(name)
    x, y = _pairs()[0]
    with torch.no_grad():
        self_sim = model.sim(y, y)
        other = torch.stack([model.sim(a, b) for a, b in _pairs()])
    if not model.identity_is_best:
        assert torch.isfinite(self_sim).all() and torch.isfinite(other).all()
        assert model.sim_range[1] is None, f"{name} bounds sim above without claiming identical images reach the bound"
        return
    top = self_sim.max() if model.higher_is_better else self_sim.min()
    if model.sim_range[1 if model.higher_is_better else 0] is not None:
        assert torch.allclose(self_sim, torch.full_like(self_sim, model.sim_range[1 if model.higher_is_better else 0]), atol=1e-4)
    if model.higher_is_better:
        assert (other <= top + 1e-4).all()
    else:
        assert (other >= top - 1e-4).all()


@pytest.mark.parametrize("name", list_models())
def test_differentiable_metrics_give_finite_nonzero_pixel_gradients(name):
    model = _random_weight_model(name)
    if not model.is_differentiable:
        pytest.skip(f"{name} declares is_differentiable=False")
    x, y = _pairs()[0]
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.sim(x, y).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("name", list_models())
def test_embedding_metrics_embed_and_pairwise_metrics_refuse_to(name):
    model = _random_weight_model(name)
    x, _ = _pairs()[0]
    assert model.metric_properties()["has_embedding"] is model.has_embedding
    if model.has_embedding:
        with torch.no_grad():
            embedding = model.embed(x)
            features = model.features(x)
        assert embedding.ndim == 2 and embedding.shape[0] == 2
        assert torch.allclose(features.norm(dim=-1), torch.ones(2), atol=1e-4)
    else:
        with pytest.raises(NotImplementedError, match="no embedding"):
            model.embed(x)


def test_a_card_less_pairwise_factory_named_by_module_is_recorded_as_pairwise(tmp_path, monkeypatch):
    """A card cannot claim an embedding any more: the class says, and this class has none."""
    (tmp_path / "acme_pairwise.py").write_text(
        "from model_zoo import PairwiseModel\n\n"
        "class Linf(PairwiseModel):\n"
        "    sim_range = (0.0, 1.0)\n\n"
        "    def pairwise_sim(self, x, y):\n"
        "        return 1 - (x - y).abs().flatten(1).amax(dim=1)\n\n"
        "def linf(pretrained: bool = True) -> Linf:\n"
        "    return Linf()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from model_zoo.registry import model_class

    model = create_model("acme_pairwise:linf")
    assert model.has_embedding is False and model.metric_properties()["has_embedding"] is False
    assert model.card.family == "custom" and not hasattr(model.card, "has_embedding")
    assert model_class("acme_pairwise:linf") is type(model)


def test_a_directly_called_factory_has_its_card():
    from model_zoo.clip import clip_convnext
    from model_zoo.ssim import ssim_metric

    model = clip_convnext(pretrained=False, reduced=True)
    assert model.card == get_model_card("clip-convnext") and model.weights_kind == "random"
    robust = clip_convnext(pretrained=False, reduced=True, weights="r-clip-f-convnext")
    assert robust.card == get_model_card("r-clip-f-convnext") and robust.card.robust_training == "FARE"
    assert ssim_metric().card == get_model_card("ssim") and ssim_metric().weights_kind == "none"
    with pytest.raises(ValueError, match="no weight set 'r-clip-f-vit-b16'"):
        clip_convnext(pretrained=False, reduced=True, weights="r-clip-f-vit-b16")


@pytest.mark.parametrize("architecture,name", list_pretrained())
def test_every_architecture_factory_called_directly_gives_the_card_of_its_weights(architecture, name):
    import importlib
    import inspect

    from model_zoo.registry import _ORIGINS

    factory = getattr(importlib.import_module(_ORIGINS[name].__module__), architecture)
    options = {"weights": name} if "weights" in inspect.signature(factory).parameters else {}
    torch.manual_seed(0)
    model = factory(pretrained=False, **small_model_kwargs(name), **options)
    assert model.card == get_model_card(name)


def test_reduced_with_pretrained_is_refused_once_by_the_registry():
    from model_zoo.clip import clip_convnext

    for build in (lambda: create_model("r-clip-f-convnext", reduced=True), lambda: clip_convnext(reduced=True)):
        with pytest.raises(ValueError, match="reduced=True builds a small random-weight configuration; use it with pretrained=False"):
            build()


def test_a_weight_set_name_cannot_swap_its_weights():
    """`--model-kwarg weights=...` would put other weights under this name's card."""
    from model_zoo.registry import check_model_options, factory_accepts

    assert not factory_accepts("r-clip-f-convnext", "weights") and factory_accepts("r-clip-f-convnext", "reduced")
    with pytest.raises(ValueError, match="has no option 'weights'"):
        create_model("r-clip-f-convnext", pretrained=False, reduced=True, weights="clip-convnext")
    check_model_options("r-clip-f-convnext", {"reduced": True})


def test_list_pretrained_pairs_architectures_with_their_weights():
    pairs = list_pretrained()
    assert ("clip_convnext", "clip-convnext") in pairs and ("clip_convnext", "r-clip-f-convnext") in pairs
    assert ("clip_convnext", "r-clip-t-convnext") in pairs and ("lpips_alex", "r-lpips") in pairs
    assert {name for _, name in pairs} == set(list_models())
    assert list_pretrained("r-clip-*-convnext") == [("clip_convnext", "r-clip-f-convnext"), ("clip_convnext", "r-clip-t-convnext")]


def test_every_builtin_name_is_a_literal_in_the_source():
    """Names are data, not f-strings: `grep '"r-clip-f-convnext"' model_zoo` finds each one."""
    from pathlib import Path

    import model_zoo
    from model_zoo.registry import _ORIGINS

    source = "".join(p.read_text(encoding="utf-8") for p in Path(model_zoo.__file__).parent.glob("*.py"))
    # Not `pkg.module:factory` names, nor `bench finetune` folders that other tests registered by their path.
    builtin = [
        name
        for name in list_models()
        if ":" not in name
        and _ORIGINS[name].__module__.startswith("model_zoo.")
        and _ORIGINS[name].__module__ != "model_zoo.trained_folder"
    ]
    assert len(builtin) >= 38
    assert [name for name in builtin if f'"{name}"' not in source] == []


def test_cards_read_from_old_result_files_ignore_behaviour_fields():
    from model_zoo import ModelCard

    old = get_model_card("lpips-alex").to_dict() | {"has_embedding": True, "sim_range": [-1.0, 1.0]}
    assert ModelCard.from_dict(old) == get_model_card("lpips-alex")
    assert "has_embedding" not in get_model_card("lpips-alex").to_dict()


def test_metric_properties_read_the_class_or_the_model():
    """A wrapper takes its metric's flags: EOT over LPIPS is still bounded by 1 only above."""
    from model_zoo.eot import ExpectationOverTransformation
    from model_zoo.lpips_models import LPIPSMetric

    assert LPIPSMetric.metric_properties()["sim_range"] == [None, 1.0]
    wrapped = ExpectationOverTransformation(create_model("lpips-alex", pretrained=False), n_samples=2)
    assert wrapped.metric_properties()["sim_range"] == [None, 1.0] and wrapped.sim_range == (None, 1.0)
    assert ExpectationOverTransformation.metric_properties()["sim_range"] == [-1.0, 1.0]


def test_the_reduced_guard_sees_options_passed_through_keyword_arguments():
    from model_zoo.pixel import PixelL2

    @register_model("test-options-factory")
    def factory(pretrained: bool = True, **options):
        return PixelL2()

    with pytest.raises(ValueError, match="reduced=True"):
        create_model("test-options-factory", reduced=True)
    assert create_model("test-options-factory", pretrained=False, reduced=True).card.name == "test-options-factory"
