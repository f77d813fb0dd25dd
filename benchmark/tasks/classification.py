"""Zero-shot classification (paper App. B-D, Table XI): CLIP's text-derived classifier, clean and under attack.

The class vectors come from the model's own text tower (`model_zoo.zero_shot`): the dataset's class
names in its prompt templates. The attack is APGD on the classifier's cross-entropy (or margin),
untargeted, stopping for a sample once it is misclassified; the paper's caption uses Linf 4/255.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import torch

from attacks.config import AttackConfig
from attacks.losses import ClassifierObjective
from model_zoo.base import PerceptualModel
from model_zoo.text_tower import text_tower_for_model
from model_zoo.weights import perceptbench_cache_dir
from model_zoo.zero_shot import ZeroShotClassifier, zero_shot_class_vectors

from ..results import SampleOutcome
from .base import BatchAttack, PerSampleTask, predicted_class_outcomes
from .registry import register_task


def _class_vectors(model: PerceptualModel, classnames: list[str], templates: tuple[str, ...], device) -> torch.Tensor:
    """Zero-shot class vectors; cached on disk for a pretrained model (1000 classes x 80 prompts take a while)."""
    key = hashlib.sha256(json.dumps([model.card.name, classnames, list(templates)]).encode()).hexdigest()[:16]
    safe_name = re.sub(r"[^A-Za-z0-9._+-]+", "_", model.card.name)  # names may be paths or module:factory
    cache = perceptbench_cache_dir() / "zero_shot" / f"{safe_name}-{key}.pt"
    if model.weights_kind == "pretrained" and cache.is_file():
        return torch.load(cache, map_location=device, weights_only=True)
    vectors = zero_shot_class_vectors(text_tower_for_model(model, device), classnames, templates).to(device)
    if model.weights_kind == "pretrained":
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(vectors.cpu(), cache)
    return vectors


@register_task
class ClassificationTask(PerSampleTask):
    """Zero-shot classification accuracy (the mean per-sample scores), clean and under an untargeted attack on the classifier."""

    name = "classification"

    def prepare(self, model: PerceptualModel, dataset, attack: AttackConfig | None, device, batch_size: int) -> None:
        """Build the zero-shot classifier from the dataset's class names and prompt templates."""
        self.classnames = list(dataset.classnames)
        self.classifier = ZeroShotClassifier(model, _class_vectors(model, self.classnames, dataset.templates, device))

    def evaluate_batch(
        self, model: PerceptualModel, batch: dict[str, Any], attack: AttackConfig | None, device, sample_ids: list[int]
    ) -> list[SampleOutcome]:
        """Clean and (if `attack`) robust predictions; only correctly classified samples are attacked."""
        images = batch["image"].to(device)
        labels = batch["label"].to(device)
        with torch.no_grad():
            clean = self.classifier(images).argmax(dim=1)
        robust = clean.clone()
        batch_attack = BatchAttack(attack, len(labels), device, success_based=True, n_classes=len(self.classnames))
        attacked = (clean == labels).nonzero().flatten()  # what is already wrong stays wrong
        if attack is not None and attacked.numel():
            objective = ClassifierObjective(self.classifier, labels[attacked], loss=attack.loss)
            x_adv = batch_attack.run(objective, images, attacked, sample_ids)
            with torch.no_grad():
                robust[attacked] = self.classifier(x_adv).argmax(dim=1)
        extras = [{"class": self.classnames[int(label)], **batch_attack.columns_of(i)} for i, label in enumerate(labels)]
        return predicted_class_outcomes(self.classnames, labels, clean, robust, batch_attack.perturbation, attack is not None, extras)
