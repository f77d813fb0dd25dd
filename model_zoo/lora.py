"""LoRA adapters (peft) in the layout DreamSim and the paper publish, merged into plain weights.

A published adapter folder holds `adapter_config.json` and `adapter_model.{safetensors,bin}` whose
keys are `base_model.model.<host attribute path>.lora_{A,B}.weight`; `LoraHost` gives the encoder
the attribute path the files expect (`model.` for the paper's checkpoints).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn

from .weights import WeightsUnavailableError

ADAPTER_CONFIG = "adapter_config.json"


class LoraHost(nn.Module):
    """Holds an encoder as `self.model`, as the module the paper's adapters were saved from."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        """The held encoder's output."""
        return self.model(x)


def find_adapter_folder(root: Path, name_hint: str = "") -> Path:
    """The folder under `root` (itself, or one level of release zip nesting) that holds an adapter."""
    candidates = sorted(p.parent for p in Path(root).rglob(ADAPTER_CONFIG))
    if name_hint:
        candidates = [p for p in candidates if name_hint in p.name] or candidates
    if not candidates:
        raise WeightsUnavailableError(f"no LoRA adapter ({ADAPTER_CONFIG}) under '{root}'; re-download the adapter folder there")
    return candidates[0]


def load_lora_adapter(host: nn.Module, folder: Path) -> nn.Module:
    """Apply the adapter in `folder` to `host` and merge it, returning a plain module with the same names."""
    from peft import PeftModel

    if not (Path(folder) / ADAPTER_CONFIG).exists():
        raise WeightsUnavailableError(f"'{folder}' is not a LoRA adapter folder (no {ADAPTER_CONFIG})")
    peft_model = PeftModel.from_pretrained(host, str(folder), is_trainable=False)
    return peft_model.merge_and_unload()


def add_untrained_lora(host: nn.Module, target_modules: Sequence[str] | str, rank: int = 16, alpha: float = 0.5) -> nn.Module:
    """The same architecture with freshly initialised adapters, merged (random-weight builds)."""
    from peft import LoraConfig, get_peft_model

    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    # peft annotates lora_alpha as int but takes any scale; the paper's adapters use 0.5.
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none", target_modules=targets)  # type: ignore[arg-type]
    return get_peft_model(host, config).merge_and_unload()
