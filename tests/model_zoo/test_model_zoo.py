"""The zoo as a whole: its size and cards, `bench models`, and third-party models via entry points."""

import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner

from model_zoo import create_model, get_model_card, list_models, registry

PAPER_MODELS = [
    "clip-vit-b32",
    "clip-vit-b16",
    "clip-convnext",
    "clip-vit-l14",
    *[f"r-clip-{m}-{b}" for m in "ft" for b in ("vit-b32", "vit-b16", "convnext", "vit-l14", "vit-l14-eps2")],
    *[f"r-clip-{m}-{b}+{h}" for m in "ft" for b in ("convnext", "vit-b16") for h in ("mlp", "lora")],
    "dino-vit-b16",
    "dinov2-vit-b14",
    "r-dino-f-vit-b16",
    "r-dinov2-f-vit-b14",
    "dreamsim-ensemble",
    "dreamsim-openclip-vit-b32",
    "dreamsim-clip-vit-b32",
    "dreamsim-dino-vit-b16",
    "lipsim-pretrained",
    "lipsim-margin0.2",
    "lipsim-margin0.5",
    "lpips-alex",
    "r-lpips",
    "ssim",
    "pixel-l2",
]


def test_every_metric_of_the_paper_is_registered():
    assert set(PAPER_MODELS) <= set(list_models())
    assert len(list_models()) >= 30


@pytest.mark.parametrize("name", PAPER_MODELS)
def test_cards_say_where_weights_come_from_and_how_big_the_model_is(name):
    card = get_model_card(name)
    assert card.name == name
    if card.needs_weights:
        source = card.weights
        assert source.hub_id or source.url or source.package or source.filename
        assert card.parameters and card.parameters > 1_000_000
    if card.robust_training in ("FARE", "TeCoA"):
        assert card.robust_eps in ("2/255", "4/255")
    if "+" in name:
        assert card.finetuning == {"mlp": "NIGHTS-MLP", "lora": "NIGHTS-LoRA"}[name.split("+")[1]]
    if card.weights.sha256 is None and card.needs_weights and not card.weights.package:
        assert "sha256" in (card.weights.note + card.notes) or card.weights.hub_id or "not published" in card.weights.note


def test_bench_models_lists_the_zoo_with_parameters():
    from benchmark.cli.bench import main

    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "parameters" in lines[0] and "weights" in lines[0] and "fine-tuning" in lines[0]
    assert f"{len(list_models())} models" in result.output
    row = next(line for line in lines if line.startswith("r-clip-t-convnext+lora "))
    assert "NIGHTS-LoRA" in row and "TeCoA 4/255" in row and "88.2M" in row
    filtered = CliRunner().invoke(main, ["models", "dreamsim-*"])
    assert "4 models" in filtered.output


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    """An installed third-party distribution as pip leaves it: a module and its dist-info entry points."""
    (tmp_path / "acme_metrics.py").write_text(
        textwrap.dedent("""
        import torch
        from model_zoo import PairwiseModel

        class MeanAbsolute(PairwiseModel):
            def pairwise_sim(self, x, y):
                return 1 - (x - y).abs().flatten(1).mean(dim=1)

        def mean_absolute(pretrained=True):
            return MeanAbsolute()
    """)
    )
    dist_info = tmp_path / "acme_metrics-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-metrics\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[perceptbench.models]\nacme-mean-absolute = acme_metrics:mean_absolute\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    yield "acme-mean-absolute"
    registry._FACTORIES.pop("acme-mean-absolute", None)
    registry._CARDS.pop("acme-mean-absolute", None)
    sys.modules.pop("acme_metrics", None)


def test_third_party_model_registers_through_the_entry_point_group(plugin_on_path):
    assert plugin_on_path in list_models("acme-*")
    model = create_model(plugin_on_path)
    assert model.sim(torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.25)).item() == pytest.approx(0.75)
    assert get_model_card(plugin_on_path).family == "custom"


def test_third_party_model_by_module_and_factory_name(plugin_on_path):
    model = create_model("acme_metrics:mean_absolute")
    assert model.sim(torch.ones(1, 3, 8, 8), torch.ones(1, 3, 8, 8)).item() == pytest.approx(1.0)


def test_a_factory_without_a_card_has_unknown_provenance_not_no_weights(plugin_on_path):
    """Nothing says whether a card-less factory loads weights: results must say 'unknown', not 'none'."""
    card = get_model_card(plugin_on_path)
    assert card.weights.describe().startswith("unknown")
    assert create_model(plugin_on_path).weights_kind == "unknown"
    assert create_model(plugin_on_path, pretrained=False).weights_kind == "random"
