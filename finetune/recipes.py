"""What is trained and on which loss: NIGHTS 2AFC (LoRA, MLP head) and FARE/TeCoA adversarial fine-tuning.

A recipe owns the model being trained, its data and its loss; `finetune.trainer` owns the loop
(order of the data, optimiser, checkpoints, processes). Losses are returned summed over the
process's samples, so the trainer can normalise by the whole batch across processes.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, cast

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import default_collate

from attacks.objective import ObjectiveOutput
from attacks.pgd import pgd, uniform_linf_start
from benchmark.datasets.twoafc import TwoAFCDataset
from benchmark.runtime.distributed import ProcessGroup
from model_zoo.base import EmbeddingModel
from model_zoo.clip import OPEN_CLIP_SPECS, REDUCED_EMBED_DIM, OpenClipImageEncoder
from model_zoo.finetuned import MLP_HIDDEN, HeadedEncoder, attach_mlp_head, trainable_lora
from model_zoo.preprocess import ImagePreprocess
from model_zoo.trained_folder import LORA_FOLDER, MLP_HEAD_FILE, VISUAL_FILE, embedding_dim

from .base import BaseTower
from .config import FinetuneConfig
from .data import ImageFolderDataset, SizedDataset, Subset, load_nights_split

Autocast = Callable[[], AbstractContextManager]


class AdapterModel(Protocol):
    """What a NIGHTS-LoRA run needs of peft's model: writing its adapter folder."""

    def save_pretrained(self, save_directory: str) -> None:
        """Write the adapter folder (adapter_config.json and the adapter weights)."""


class Recipe:
    """The model being trained, its data and its loss."""

    model: EmbeddingModel
    train_set: Subset[Any]
    selects_best: bool = False  # keep the weights of the best validation epoch (NIGHTS), else the last ones
    images_per_sample: int = 1  # images one sample puts through the model in a training pass (a NIGHTS triplet: 3)
    eval_batch_size: int | None = None  # samples per validation pass; None: --batch-size (the trainer sets the micro-batch)
    robust_training: str
    robust_eps: str | None
    finetuning: str

    def __init__(self, config: FinetuneConfig, base: BaseTower, device: torch.device, autocast: Autocast):
        self.config = config
        self.base = base
        self.device = device
        self.autocast = autocast

    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        """The parameters the optimiser updates, by name (the adapters, the head, or the whole tower)."""
        return {name: p for name, p in self.model.named_parameters() if p.requires_grad}

    def trainable_state(self) -> dict[str, Tensor]:
        """A copy of the trainable parameters: what a checkpoint and best-epoch selection store."""
        return {name: p.detach().clone() for name, p in self.trainable_parameters().items()}

    def load_trainable_state(self, state: dict[str, Tensor]) -> None:
        """Put back a `trainable_state` (resuming, or restoring the best epoch); refuse one of another model."""
        parameters = self.trainable_parameters()
        if set(state) != set(parameters):
            raise ValueError("the checkpoint's trainable parameters do not match this model; train into a fresh --output-dir")
        with torch.no_grad():
            for name, value in state.items():
                parameters[name].copy_(value)

    def batch_loss(
        self, batch: dict[str, Tensor], rows: list[int], batch_size: int, generator: torch.Generator
    ) -> tuple[Tensor, dict[str, float]]:
        """Loss summed over this process's `rows` of a global batch of `batch_size`, and statistics (sums)."""
        raise NotImplementedError

    def validate(self, group: ProcessGroup) -> dict[str, float] | None:
        """Validation statistics after an epoch, for recipes that select the best epoch; None for the others."""
        return None

    def export(self, folder: Path) -> dict[str, str]:
        """Write the weight files into `folder`; return their roles -> relative paths."""
        raise NotImplementedError

    def data_info(self) -> dict[str, Any]:
        """What the output card records about the training data."""
        return {}


def save_state(state: dict[str, Tensor], path: Path) -> None:
    """An open_clip tower's state dict as safetensors (the format `load_open_clip_visual_weights` reads)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path))


def _sum_over_processes(values: list[float], group: ProcessGroup, device: torch.device) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if group.world_size > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


class NightsRecipe(Recipe):
    """DreamSim's NIGHTS fine-tuning: hinge loss on the 2AFC distance difference, model selection on val.

    Distance d(x, y) = 1 - cos(e(x), e(y)) (DreamSim's); with y = +1 when humans chose the second
    image, the loss is max(0, margin - y (d(ref, x0) - d(ref, x1))), averaged over the batch.
    """

    selects_best = True
    images_per_sample = 3
    train_set: Subset[TwoAFCDataset]

    def __init__(self, config: FinetuneConfig, base: BaseTower, device: torch.device, autocast: Autocast):
        super().__init__(config, base, device, autocast)
        self.robust_training, self.robust_eps = base.robust_training, base.robust_eps
        self.train_set = Subset(load_nights_split(config.data_root, "train"), config.n_train)
        self.val_set = Subset(load_nights_split(config.data_root, "val"), config.n_val)
        base.visual.requires_grad_(False)
        # The tower as it was before LoRA wraps its layers: what the output folder stores when it is not the published one.
        self.base_tower_state = None if base.published else {k: v.clone() for k, v in base.visual.state_dict().items()}
        if config.method == "mlp":
            self.finetuning = "NIGHTS-MLP"
            self.hidden: int | None = config.mlp_hidden or (REDUCED_EMBED_DIM if base.reduced else MLP_HIDDEN)
            self.model = attach_mlp_head(base.visual, base.image_size, embedding_dim(base.architecture, base.reduced), self.hidden)
            self.peft_model: AdapterModel | None = None
        else:
            self.finetuning = "NIGHTS-LoRA"
            self.hidden = None
            self.model, peft_model = trainable_lora(
                base.visual, base.image_size, base.lora_backbone, base.reduced, config.lora_rank, config.lora_alpha, config.lora_dropout
            )
            self.peft_model = cast(AdapterModel, peft_model)  # peft's PeftModel, typed by model_zoo as a plain Module
        self.model.preprocess.requires_grad_(False)
        self.model.to(device)
        # Images reach the model as the benchmark feeds it: through its own transform (DreamSim's 224x224 stretch).
        for dataset in (self.train_set.dataset, self.val_set.dataset):
            dataset.image_transform = self.model.input_preprocessing.image_transform()

    def _distances(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        images = torch.cat([batch["reference"], batch["candidate_0"], batch["candidate_1"]])
        with self.autocast():
            features = F.normalize(self.model.embed(images).float(), dim=-1)
        reference, first, second = features.chunk(3)
        return 1.0 - (reference * first).sum(dim=-1), 1.0 - (reference * second).sum(dim=-1)

    def _hinge(self, dist_0: Tensor, dist_1: Tensor, judge: Tensor) -> Tensor:
        sign = 2.0 * (judge >= 0.5).float() - 1.0  # +1: humans chose the second image
        return torch.clamp(self.config.margin - sign * (dist_0 - dist_1), min=0.0)

    def batch_loss(self, batch, rows, batch_size, generator):
        """The 2AFC hinge loss of DreamSim on a NIGHTS batch (the head or the LoRA adapters train)."""
        self.model.train()
        dist_0, dist_1 = self._distances(batch)
        loss = self._hinge(dist_0, dist_1, batch["judge"])
        correct = ((dist_1 < dist_0) == (batch["judge"] >= 0.5)).float().sum()
        return loss.sum(), {"loss": float(loss.detach().sum()), "correct": float(correct), "count": float(len(rows))}

    @torch.no_grad()
    def score(self, dataset: SizedDataset, group: ProcessGroup) -> dict[str, float]:
        """2AFC accuracy and hinge loss on `dataset` (each process scores its share)."""
        self.model.eval()
        positions = list(range(group.rank, len(dataset), group.world_size))
        correct = loss = 0.0
        size = self.eval_batch_size or self.config.batch_size
        for start in range(0, len(positions), size):
            batch = default_collate([dataset[p] for p in positions[start : start + size]])
            batch = {k: v.to(self.device) for k, v in batch.items() if torch.is_tensor(v)}
            dist_0, dist_1 = self._distances(batch)
            correct += float(((dist_1 < dist_0) == (batch["judge"] >= 0.5)).sum())
            loss += float(self._hinge(dist_0, dist_1, batch["judge"]).sum())
        correct, loss, count = _sum_over_processes([correct, loss, float(len(positions))], group, self.device)
        return {"score": correct / count, "loss": loss / count, "n": count}

    def validate(self, group):
        """2AFC accuracy on the NIGHTS val split, which picks the epoch to export."""
        return self.score(self.val_set, group)

    def export(self, folder: Path) -> dict[str, str]:
        """Write the head (`mlp`) or the adapter folder (`lora`) in the layout the zoo loads."""
        files: dict[str, str] = {}
        if self.base_tower_state is not None:  # the tower is not the published one: the folder stores it too
            save_state(self.base_tower_state, folder / VISUAL_FILE)
            files["visual"] = VISUAL_FILE
        encoder = self.model.encoder
        if self.peft_model is not None:
            self.peft_model.save_pretrained(str(folder / LORA_FOLDER))
            _sort_target_modules(folder / LORA_FOLDER / "adapter_config.json")
            files["lora"] = LORA_FOLDER
        elif isinstance(encoder, HeadedEncoder):
            state = {f"perceptual_model.mlp.{k}": v.detach().cpu().clone() for k, v in encoder.head.state_dict().items()}
            torch.save(state, folder / MLP_HEAD_FILE)  # the key layout of the paper's released heads
            files["mlp_head"] = MLP_HEAD_FILE
        else:
            raise TypeError(f"a NIGHTS-MLP model has a HeadedEncoder, got {type(encoder).__name__}")
        return files

    def data_info(self):
        """Which NIGHTS splits and how many triplets trained and validated the metric."""
        return {
            "dataset": "nights",
            "train_split": "train",
            "selection_split": "val",
            "n_train": len(self.train_set),
            "n_val": len(self.val_set),
        }


def _sort_target_modules(config_path: Path) -> None:
    """peft writes `target_modules` from a set, in an order that changes between processes; sort it so the file
    (and its sha256 on the card) is the same for the same training."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")


class EmbeddingDriftObjective:
    """FARE's loss: squared L2 distance of the embedding to the frozen original's clean embedding (no normalisation)."""

    def __init__(self, model: EmbeddingModel, targets: Tensor, autocast: Autocast):
        self.model, self.targets, self.autocast = model, targets, autocast

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        with self.autocast():
            embedding = self.model.embed(x).float()
        return ObjectiveOutput(loss=((embedding - self.targets[index]) ** 2).sum(dim=-1))


class ZeroShotCrossEntropyObjective:
    """TeCoA's loss: cross-entropy of `logit_scale` x cosine to the text classifier's class vectors."""

    def __init__(self, model: EmbeddingModel, class_vectors: Tensor, labels: Tensor, logit_scale: float, autocast: Autocast):
        self.model, self.class_vectors, self.labels = model, class_vectors, labels
        self.logit_scale, self.autocast = logit_scale, autocast

    def logits(self, x: Tensor) -> Tensor:
        """(B, K) zero-shot logits of `x`: `logit_scale` times the cosine to each class vector."""
        with self.autocast():
            embedding = self.model.embed(x).float()
        return self.logit_scale * F.normalize(embedding, dim=-1) @ self.class_vectors.T

    def __call__(self, x: Tensor, index: Tensor) -> ObjectiveOutput:
        logits = self.logits(x)
        labels = self.labels[index]
        return ObjectiveOutput(loss=F.cross_entropy(logits, labels, reduction="none"), success=logits.argmax(dim=1) != labels)


class AdversarialRecipe(Recipe):
    """FARE or TeCoA: the whole image tower trained on its loss at PGD points in the Linf ball (inner max, 10 steps)."""

    train_set: Subset[ImageFolderDataset]

    def __init__(self, config: FinetuneConfig, base: BaseTower, device: torch.device, autocast: Autocast):
        super().__init__(config, base, device, autocast)
        self.robust_training = "FARE" if config.method == "fare" else "TeCoA"
        self.robust_eps = config.eps
        self.finetuning = "none"
        spec = OPEN_CLIP_SPECS[base.architecture]
        # The tower keeps its base's preprocessing (open_clip's eval transform, as `build_open_clip`).
        self.model = EmbeddingModel(
            OpenClipImageEncoder(base.visual), ImagePreprocess(spec.preprocessing.at_input_size(base.image_size))
        ).to(device)
        self.train_set = Subset(ImageFolderDataset(config.data_root, self.model.input_preprocessing, "train"), config.n_train)
        self.model.requires_grad_(False)
        base.visual.requires_grad_(True)
        self.original = copy.deepcopy(self.model).eval().requires_grad_(False) if config.method == "fare" else None
        self.class_vectors = self._class_vectors() if config.method == "tecoa" else None

    def _classnames(self) -> list[str]:
        from model_zoo.zero_shot_data import imagenet_classname_by_wnid

        clip_names = imagenet_classname_by_wnid()
        classes = self.train_set.dataset.classes
        unknown = [wnid for wnid in classes if wnid not in clip_names]
        if unknown:
            warnings.warn(
                f"{len(unknown)} class folder(s) are not ImageNet wnids (e.g. '{unknown[0]}'); their folder names are the class names",
                stacklevel=2,
            )
        return [clip_names.get(wnid, wnid.replace("_", " ")) for wnid in classes]

    def _class_vectors(self) -> Tensor:
        from model_zoo.text_tower import create_text_tower
        from model_zoo.zero_shot import zero_shot_class_vectors

        tower = create_text_tower(
            self.base.architecture, pretrained=self.base.base_weights == "pretrained", device=self.device, reduced=self.base.reduced
        )
        return zero_shot_class_vectors(tower, self._classnames(), list(self.config.templates)).to(self.device)

    def objective(self, batch: dict[str, Tensor]) -> EmbeddingDriftObjective | ZeroShotCrossEntropyObjective:
        """The loss PGD maximises and training minimises on `batch`: FARE's embedding drift or TeCoA's cross-entropy."""
        if self.original is not None:  # FARE
            with torch.no_grad(), self.autocast():
                targets = self.original.embed(batch["image"]).float()
            return EmbeddingDriftObjective(self.model, targets, self.autocast)
        if self.class_vectors is not None:  # TeCoA
            return ZeroShotCrossEntropyObjective(self.model, self.class_vectors, batch["label"], self.config.logit_scale, self.autocast)
        raise ValueError(f"adversarial fine-tuning is 'fare' or 'tecoa', got '{self.config.method}'")

    def adversarial_images(
        self, batch: dict[str, Tensor], objective: EmbeddingDriftObjective | ZeroShotCrossEntropyObjective, start: Tensor | None
    ) -> Tensor:
        """PGD's points for `batch` (the inner maximisation), from the perturbation `start`."""
        self.model.eval()
        return pgd(
            objective,
            batch["image"],
            norm="linf",
            eps=self.config.eps_value,
            n_iter=self.config.pgd_steps,
            step_size=self.config.pgd_step_value,
            start=start,
        )

    def batch_loss(self, batch, rows, batch_size, generator):
        """FARE's embedding loss or TeCoA's cross-entropy on adversarial images found by PGD."""
        images = batch["image"]
        # The random start of the whole batch is drawn in every process and each keeps its rows, so
        # sharding the batch does not change any sample's start.
        start = uniform_linf_start((batch_size, *images.shape[1:]), self.config.eps_value, generator)[rows]
        objective = self.objective(batch)
        x_adv = self.adversarial_images(batch, objective, start)
        self.model.train()
        output = objective(x_adv, torch.arange(len(rows), device=images.device))
        stats = {"loss": float(output.loss.detach().sum()), "count": float(len(rows))}
        if output.success is not None:
            stats["correct"] = float((~output.success).sum())
        return output.loss.sum(), stats

    def export(self, folder: Path) -> dict[str, str]:
        """Write the fine-tuned image tower as an open_clip `visual.*` state dict."""
        save_state(self.base.visual.state_dict(), folder / VISUAL_FILE)
        return {"visual": VISUAL_FILE}

    def data_info(self):
        """Which ImageNet split and how many images trained the tower."""
        from benchmark.protocol_choices import PROTOCOL_CHOICES

        dataset = self.train_set.dataset
        info = {"dataset": "imagenet-format folder", "split": "train", "n_train": len(self.train_set), "n_classes": len(dataset.classes)}
        info["image_transform"] = self.model.input_preprocessing.describe()
        if self.base.architecture == "clip-convnext":  # where the paper is silent: the choice and its reason
            info["choice"] = PROTOCOL_CHOICES["convnext_training_at_224"]
        return info


def build_recipe(config: FinetuneConfig, base: BaseTower, device: torch.device, autocast: Autocast) -> Recipe:
    """The recipe of `config.method`: NIGHTS (lora, mlp) or adversarial (fare, tecoa)."""
    if config.method in ("lora", "mlp"):
        return NightsRecipe(config, base, device, autocast)
    return AdversarialRecipe(config, base, device, autocast)
