"""`bench evaluate --save-adversarial N`: the N worst-case adversarial references of a 2AFC run, as lossless PNGs.

Worst case = the largest change of the similarity margin toward the wrong choice: with m = sim(ref, x_label) -
sim(ref, x_other), the attack's m_clean - m_adversarial, over the attacked samples (from the per-sample sidecar,
so a resumed run ranks every sample). The chosen samples are attacked again (each sample's random start comes
from its own generator, so it is the run's attack on that sample) and written into `<result stem>.adversarial/`
beside the result: reference, adversarial reference, the perturbation amplified to the full grey range, x0
and x1, with `examples.json` holding the similarities and the metric's and the humans' choices before and after.
PNG keeps 8 bits per channel, so the saved adversarial image is the attack's output rounded to 1/255; its own
similarities (`sims_after_png`) are recorded beside the attack's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.utils.data import default_collate

from attacks import Subset, TwoAFCObjective, run_attack, twoafc_predictions
from attacks.threat import perturbation_norm

from .results import SampleOutcome
from .runtime.atomic import atomic_write_text

if TYPE_CHECKING:
    from .runner import EvaluationRun

GALLERY_SUFFIX = ".adversarial"
EXAMPLES_FILE = "examples.json"
IMAGE_KINDS = ("reference", "adversarial", "perturbation", "x0", "x1")


def margin_change(outcome: SampleOutcome) -> float:
    """How far the attack moved the similarity margin toward the wrong candidate (positive: toward it)."""
    label = int(outcome.label)  # type: ignore[arg-type]  # 2AFC outcomes carry an int label
    sims = {kind: [float(outcome.extra[f"{kind}_sim_{k}"]) for k in (0, 1)] for kind in ("clean", "robust")}
    before, after = (s[label] - s[1 - label] for s in (sims["clean"], sims["robust"]))
    return before - after


def worst_cases(outcomes: list[SampleOutcome], count: int) -> list[SampleOutcome]:
    """The `count` attacked samples whose margin moved furthest toward the wrong choice, worst first."""
    attacked = [o for o in outcomes if o.attacked and "robust_sim_0" in o.extra]
    return sorted(attacked, key=lambda o: (-margin_change(o), o.position or 0))[:count]


def gallery_folder(result_path: Path) -> Path:
    """`<stem>.adversarial/` beside the result file."""
    return result_path.with_name(result_path.stem + GALLERY_SUFFIX)


def _png(image: Tensor, path: Path) -> None:
    from PIL import Image

    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    Image.fromarray(array).save(path, format="PNG")


def _rounded(image: Tensor) -> Tensor:
    """What the PNG holds: the image rounded to 8 bits."""
    return (image.clamp(0, 1) * 255).round() / 255


def save_gallery(run: EvaluationRun, outcomes: list[SampleOutcome], count: int, result_path: Path) -> Path:
    """Re-attack the worst cases, write their PNGs and examples.json into the gallery folder; return the folder."""
    folder = gallery_folder(result_path)
    folder.mkdir(parents=True, exist_ok=True)
    if folder.resolve().parent != result_path.resolve().parent:
        raise ValueError(f"{folder} is not beside {result_path}: refusing to write adversarial examples outside the result folder")
    chosen = worst_cases(outcomes, count)
    examples: list[dict[str, Any]] = []
    if chosen and run.attack is not None:
        positions = [int(o.position) for o in chosen]  # type: ignore[arg-type]  # the runner located every outcome
        batch = default_collate([run.dataset[p] for p in positions])
        reference, x0, x1 = (batch[key].to(run.device) for key in ("reference", "candidate_0", "candidate_1"))
        labels = torch.tensor([int(o.label) for o in chosen], device=run.device)  # type: ignore[arg-type]
        objective = TwoAFCObjective(run.model, x0, x1, labels, loss=run.attack.loss)
        index = torch.arange(len(positions), device=run.device)
        with run.acceleration.autocast(run.device):
            adversarial = run_attack(run.attack, Subset(objective, index), reference, positions).x_adv.detach()
            with torch.no_grad():
                before = objective.logits(reference).float()
                after = objective.logits(adversarial).float()
                after_png = objective.logits(_rounded(adversarial)).float()
        delta = adversarial - reference
        norms = perturbation_norm(delta.flatten(1), run.attack.norm)
        for rank, outcome in enumerate(chosen, start=1):
            examples.append(_write_example(folder, rank, outcome, reference, adversarial, delta, x0, x1, before, after, after_png, norms))
    record = {
        "model": run.config.model,
        "dataset": run.config.dataset,
        "threat": run.threat.label,
        "selection": "attacked samples with the largest change of sim(ref, x_label) - sim(ref, x_other) toward the wrong choice",
        "examples": examples,
    }
    atomic_write_text(folder / EXAMPLES_FILE, json.dumps(record, indent=2) + "\n")
    return folder


def _write_example(folder: Path, rank: int, outcome: SampleOutcome, reference, adversarial, delta, x0, x1, before, after, after_png, norms):
    row = rank - 1
    names = {kind: f"{rank:03d}_{kind}.png" for kind in IMAGE_KINDS}
    peak = float(delta[row].abs().max())
    amplification = 0.5 / peak if peak > 0 else 0.0
    images = {
        "reference": reference[row],
        "adversarial": adversarial[row],
        "perturbation": 0.5 + amplification * delta[row],  # grey is zero; the largest change reaches black or white
        "x0": x0[row],
        "x1": x1[row],
    }
    for kind, image in images.items():
        _png(image, folder / names[kind])
    choices = [twoafc_predictions(logits[row : row + 1]).item() for logits in (before, after, after_png)]
    return {
        "rank": rank,
        "position": int(outcome.position or 0),
        "sample_id": outcome.sample_id,
        "split": outcome.split,
        "judge": float(outcome.extra["judge"]),
        "humans_choice": int(outcome.label),  # type: ignore[arg-type]
        "sims_before": before[row].tolist(),
        "sims_after": after[row].tolist(),
        "sims_after_png": after_png[row].tolist(),
        "choice_before": int(choices[0]),
        "choice_after": int(choices[1]),
        "choice_after_png": int(choices[2]),
        "margin_change": margin_change(outcome),
        "perturbation_norm": float(norms[row]),
        "amplification": amplification,
        "images": names,
    }
