"""Where fine-tuning defaults and choices come from. The NIGHTS LoRA scale defaults cite where 0.5 / 0.3 come from: the authors' utils_lora.py and DreamSim's 2023
release at their commits, not DreamSim's current yaml (which says 32 / 0.2)."""

from finetune.config import METHOD_DEFAULTS


def test_lora_alpha_and_dropout_cite_the_sources_that_hold_them():
    for key, value in (("lora_alpha", 0.5), ("lora_dropout", 0.3)):
        default, source = METHOD_DEFAULTS["lora"][key]
        assert default == value
        assert "fra31/perceptual-metrics utils_lora.py at 962995f7" in source
        assert "commit 077b5571" in source


def test_convnext_adversarial_training_card_states_its_224_px_choice(tmp_path):
    import contextlib

    import torch
    from paper_data import write_imagenet

    from benchmark.protocol_choices import PROTOCOL_CHOICES
    from finetune.base import load_base_tower
    from finetune.config import default_config
    from finetune.recipes import build_recipe

    write_imagenet(tmp_path / "imagenet", {"n01440764": 1, "n01443537": 1})
    config = default_config(
        "fare",
        "clip-convnext",
        str(tmp_path / "out"),
        data_root=str(tmp_path / "imagenet"),
        random_weights=True,
        model_kwargs={"reduced": True},
    )
    base = load_base_tower(config.model, pretrained=False, model_kwargs=config.model_kwargs, seed=config.seed)
    info = build_recipe(config, base, torch.device("cpu"), contextlib.nullcontext).data_info()
    assert info["choice"] == PROTOCOL_CHOICES["convnext_training_at_224"]
    assert "CenterCrop" in info["image_transform"]
