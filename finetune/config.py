"""What a `bench finetune` run is: one dataclass, and each method's published defaults with their sources.

NIGHTS defaults are DreamSim's (Fu et al. 2023; github ssundaram21/dreamsim, `configs/train_single_model_lora.yaml`,
`configs/train_single_model_mlp.yaml`, `training/train.py`, `util/train_utils.py`). FARE and TeCoA defaults are
Schlarmann et al. 2024's (github chs20/RobustVLM, README "Training" and `train/adversarial_training_clip.py`),
whose 2 epochs on ImageNet the paper follows (Croce et al. 2025, App. A-A).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from attacks.defaults import BatchSize
from attacks.threat import parse_eps

METHODS = ("lora", "mlp", "fare", "tecoa")
NIGHTS_METHODS = ("lora", "mlp")
ADVERSARIAL_METHODS = ("fare", "tecoa")
PRECISIONS = ("fp32", "bf16")

DREAMSIM_LORA = "DreamSim configs/train_single_model_lora.yaml"
# LoRA's alpha and dropout: the paper's own adapters and DreamSim's 2023 release agree on 0.5 / 0.3; DreamSim's current
# yaml (commit 91a4749, Sept 2024) says 32 / 0.2, so these two cite the sources at the commits that hold the values.
AUTHORS_LORA = "the paper's code, github fra31/perceptual-metrics utils_lora.py at 962995f7 (LoraConfig lora_alpha=0.5, lora_dropout=0.3)"
DREAMSIM_LORA_2023 = "DreamSim configs/train_single_model_lora.yaml at its June 2023 release, commit 077b5571"
LORA_SCALE_SOURCE = f"{AUTHORS_LORA}; {DREAMSIM_LORA_2023}"
DREAMSIM_MLP = "DreamSim configs/train_single_model_mlp.yaml"
DREAMSIM_TRAIN = "DreamSim training/train.py"
ROBUSTVLM_README = "RobustVLM README (FARE4/TeCoA4 training commands)"
ROBUSTVLM_TRAIN = "RobustVLM train/adversarial_training_clip.py"
PAPER_A_A = "Croce et al. 2025, App. A-A"


@dataclass(frozen=True)
class FinetuneConfig:
    """Every setting of one training run; the fields that change its result make its hash."""

    method: str
    model: str  # registered open_clip model name, or a `bench finetune` output folder
    output_dir: str
    data_root: str | None = None
    epochs: int = 1
    steps: int | None = None  # total optimiser steps; overrides epochs
    batch_size: int = 32
    # Samples per forward/backward pass in each process: None = the process's whole share of the batch in one pass,
    # a number, or "auto" (what fits the device, resolved once the model is built). Gradients accumulate over a step's
    # micro-batches, so the update is that of the whole batch: an execution detail, outside `identity` and the hash.
    micro_batch_size: BatchSize | None = None
    lr: float = 3e-4
    weight_decay: float = 0.0
    optimizer: str = "adam"  # adam | adamw
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "constant"  # constant | cosine (linear warm-up, then cosine to 0)
    warmup_steps: int | None = None  # None: `warmup_fraction` of the total steps
    warmup_fraction: float = 0.0
    drop_last: bool = False
    # NIGHTS
    margin: float = 0.05
    lora_rank: int = 16
    lora_alpha: float = 0.5
    lora_dropout: float = 0.3
    mlp_hidden: int | None = None  # None: 512, or the embedding width of a reduced model
    # FARE / TeCoA
    eps: str = "4/255"
    pgd_steps: int = 10
    pgd_step_size: str = "1/255"
    logit_scale: float = 100.0
    templates: tuple[str, ...] = ("This is a photo of a {}",)
    # run
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    random_weights: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    n_train: int | None = None  # the first N training samples only (smoke runs)
    n_val: int | None = None
    checkpoint_every: int = 100  # optimiser steps between checkpoints (and at every epoch end)
    workers: int = 0  # data-loading processes per training process
    quiet: bool = False
    command: str = ""

    @property
    def eps_value(self) -> float:
        """The Linf radius as a number (`eps` is kept as the user wrote it, e.g. '4/255')."""
        return parse_eps(self.eps)

    @property
    def pgd_step_value(self) -> float:
        """PGD's step size as a number (`pgd_step_size` is kept as the user wrote it)."""
        return parse_eps(self.pgd_step_size)

    def validate(self) -> None:
        """Refuse impossible settings before any data is read or weights are built; each error names the option."""
        if self.method not in METHODS:
            raise ValueError(f"unknown fine-tuning method '{self.method}'; choose one of {', '.join(METHODS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'")
        if self.precision == "bf16" and not self.device.startswith("cuda"):
            raise ValueError("--precision bf16 needs a GPU (--device cuda); on the CPU train in fp32")
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"--optimizer must be adam or adamw, got '{self.optimizer}'")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"--schedule must be constant or cosine, got '{self.schedule}'")
        if self.workers < 0:
            raise ValueError(f"--workers must be >= 0, got {self.workers}")
        if min(self.batch_size, self.epochs, self.checkpoint_every) < 1 or (self.steps is not None and self.steps < 1):
            raise ValueError(
                f"--batch-size, --epochs, --steps and --checkpoint-every must be >= 1; got {self.batch_size}, {self.epochs}, {self.steps}, {self.checkpoint_every}"
            )
        micro = self.micro_batch_size
        if micro is not None and micro != "auto" and (isinstance(micro, bool) or not isinstance(micro, int) or micro < 1):
            raise ValueError(f"--micro-batch-size must be a whole number >= 1 or 'auto', got '{micro}'")
        if self.method in ADVERSARIAL_METHODS:
            eps = self.eps_value
            if not 0 <= eps <= 1:
                raise ValueError(f"Linf eps {self.eps} is outside [0, 1]; did you mean {self.eps}/255?")
            if self.pgd_steps < 0:
                raise ValueError(f"--pgd-steps must be >= 0, got {self.pgd_steps}")
            self.pgd_step_value  # noqa: B018  (parses, or names the bad text)
        if self.method == "lora" and (self.lora_rank < 1 or not 0 <= self.lora_dropout < 1):
            raise ValueError(f"need --lora-rank >= 1 and 0 <= --lora-dropout < 1; got {self.lora_rank}, {self.lora_dropout}")

    def identity(self) -> dict[str, Any]:
        """The settings that change the trained weights (not where they go, how often they are saved, the log, or the micro-batch)."""
        data = asdict(self)
        for key in ("output_dir", "checkpoint_every", "quiet", "command", "device", "workers", "micro_batch_size"):
            data.pop(key)
        return data

    def hyperparameters(self) -> dict[str, Any]:
        """The settings of `identity` that matter for this method, as the output card records them."""
        data = self.identity()
        relevant = {
            "lora": ("margin", "lora_rank", "lora_alpha", "lora_dropout", "n_val"),
            "mlp": ("margin", "mlp_hidden", "n_val"),
            "fare": ("eps", "pgd_steps", "pgd_step_size"),
            "tecoa": ("eps", "pgd_steps", "pgd_step_size", "logit_scale", "templates"),
        }[self.method]
        common = (
            "epochs",
            "steps",
            "batch_size",
            "lr",
            "weight_decay",
            "optimizer",
            "betas",
            "schedule",
            "warmup_steps",
            "warmup_fraction",
            "drop_last",
            "seed",
            "precision",
            "n_train",
        )
        return {k: data[k] for k in common + relevant}


# Each method's defaults, and where each value comes from (written on the model card).
METHOD_DEFAULTS: dict[str, dict[str, tuple[Any, str]]] = {
    "lora": {
        "epochs": (8, DREAMSIM_LORA),
        "batch_size": (32, DREAMSIM_LORA),
        "lr": (3e-4, DREAMSIM_LORA),
        "weight_decay": (0.0, DREAMSIM_LORA),
        "margin": (0.05, DREAMSIM_LORA + " (hinge loss, util/train_utils.py)"),
        "lora_rank": (16, DREAMSIM_LORA),
        "lora_alpha": (0.5, LORA_SCALE_SOURCE),
        "lora_dropout": (0.3, LORA_SCALE_SOURCE),
        "optimizer": ("adam", DREAMSIM_TRAIN + " (torch.optim.Adam)"),
        "betas": ((0.5, 0.999), DREAMSIM_TRAIN),
        "schedule": ("constant", DREAMSIM_TRAIN + " (no scheduler)"),
        "drop_last": (False, DREAMSIM_TRAIN + " (DataLoader default)"),
        "seed": (1234, DREAMSIM_LORA),
    },
    "mlp": {
        "epochs": (20, DREAMSIM_MLP),
        "batch_size": (512, DREAMSIM_MLP),
        "lr": (3e-4, DREAMSIM_MLP),
        "weight_decay": (0.0, DREAMSIM_MLP),
        "margin": (0.05, DREAMSIM_MLP),
        "mlp_hidden": (None, DREAMSIM_MLP + " (hidden_size 512; the paper's heads: 640->512 ConvNeXt-B, 512->512 ViT-B/16)"),
        "optimizer": ("adam", DREAMSIM_TRAIN + " (torch.optim.Adam)"),
        "betas": ((0.5, 0.999), DREAMSIM_TRAIN),
        "schedule": ("constant", DREAMSIM_TRAIN + " (no scheduler)"),
        "drop_last": (False, DREAMSIM_TRAIN + " (DataLoader default)"),
        "seed": (1234, DREAMSIM_MLP),
    },
}
_ADVERSARIAL = {
    "epochs": (2, PAPER_A_A + "; 2 x 10009 steps at batch 128 on ImageNet-1k = the 20000 steps of " + ROBUSTVLM_README),
    "batch_size": (128, ROBUSTVLM_README),
    "lr": (1e-5, ROBUSTVLM_README),
    "weight_decay": (1e-4, ROBUSTVLM_README),
    "optimizer": ("adamw", ROBUSTVLM_README),
    "betas": ((0.9, 0.999), ROBUSTVLM_TRAIN + " (AdamW defaults)"),
    "schedule": ("cosine", ROBUSTVLM_TRAIN + " (open_clip cosine_lr)"),
    "warmup_fraction": (0.07, ROBUSTVLM_README + " (--warmup 1400 of --steps 20000)"),
    "drop_last": (True, ROBUSTVLM_TRAIN + " (DataLoader drop_last=True)"),
    "eps": ("4/255", ROBUSTVLM_README + " (--eps 4); " + PAPER_A_A),
    "pgd_steps": (10, ROBUSTVLM_README + " (--iterations_adv 10)"),
    "pgd_step_size": ("1/255", ROBUSTVLM_README + " (--stepsize_adv 1)"),
    "seed": (0, ROBUSTVLM_TRAIN + " (torch.manual_seed(0))"),
}
METHOD_DEFAULTS["fare"] = dict(_ADVERSARIAL)
METHOD_DEFAULTS["tecoa"] = {
    **_ADVERSARIAL,
    "logit_scale": (100.0, ROBUSTVLM_TRAIN + " (logit_scale=100.)"),
    "templates": (("This is a photo of a {}",), ROBUSTVLM_README + " (--template std)"),
}


def default_config(method: str, model: str, output_dir: str, **overrides: Any) -> FinetuneConfig:
    """The published recipe of `method`, with `overrides` (None values keep the default)."""
    if method not in METHOD_DEFAULTS:
        raise ValueError(f"unknown fine-tuning method '{method}'; choose one of {', '.join(METHODS)}")
    known = {f.name for f in fields(FinetuneConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown fine-tuning setting(s) {', '.join(unknown)}")
    values = {k: v for k, (v, _) in METHOD_DEFAULTS[method].items()}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return FinetuneConfig(method=method, model=model, output_dir=output_dir, **values)


def default_sources(config: FinetuneConfig) -> dict[str, str]:
    """Where each hyper-parameter of `config` comes from: the published source, or 'set by the user'."""
    sources = {}
    for key, (value, source) in METHOD_DEFAULTS[config.method].items():
        sources[key] = source if getattr(config, key) == value else "set by the user"
    return sources


__all__ = ["FinetuneConfig", "METHOD_DEFAULTS", "default_config", "default_sources", "replace"]
