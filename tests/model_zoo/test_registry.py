import functools

import pytest
import torch

from model_zoo import PerceptualModel, UnknownModelError, create_model, get_model_card, list_models, register_model
from tests.conftest import small_model_kwargs


@functools.cache
def _random_weight_model(name: str) -> PerceptualModel:
    """Each zoo model built once per session (tiny configuration, seeded); tests only read it."""
    torch.manual_seed(0)
    return create_model(name, pretrained=False, **small_model_kwargs(name))


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
    (grad,) = torch.autograd.grad(sim.sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
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
