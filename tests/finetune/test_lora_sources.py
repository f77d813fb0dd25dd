"""The NIGHTS LoRA scale defaults cite where 0.5 / 0.3 come from: the authors' utils_lora.py and DreamSim's 2023
release at their commits, not DreamSim's current yaml (which says 32 / 0.2)."""

from finetune.config import METHOD_DEFAULTS


def test_lora_alpha_and_dropout_cite_the_sources_that_hold_them():
    for key, value in (("lora_alpha", 0.5), ("lora_dropout", 0.3)):
        default, source = METHOD_DEFAULTS["lora"][key]
        assert default == value
        assert "fra31/perceptual-metrics utils_lora.py at 962995f7" in source
        assert "commit 077b5571" in source
