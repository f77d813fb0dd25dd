"""Result files for the leaderboard tests, written by the real results writer in the real on-disk format."""

from __future__ import annotations

import json
from pathlib import Path

from attacks.config import AttackConfig
from attacks.threat import ThreatModel
from benchmark.results import EvaluationResult, Scores, checks_from_dict, write_result

INJECTED_NAME = '<script>alert("pwned")</script><b>bold-model</b>'
CONVNEXT_CARD = {
    "name": "r-clip-f-convnext",
    "family": "clip",
    "backbone": "ConvNeXt-B",
    "robust_training": "FARE",
    "robust_eps": "4/255",
    "finetuning": "none",
    "parameters": 88_221_824,
    "weights": {"hub_id": "hf-hub:chs20/FARE4-convnext_base_w-laion2B-s13B-b82K-augreg"},
}


DATASET_TASKS = {"detect": "detection", "things": "odd-one-out", "roxford5k": "retrieval", "rparis6k": "retrieval"}


def make_result(
    model,
    dataset="nights",
    split="test",
    norm="linf",
    eps_text="4/255",
    clean=0.9,
    robust=0.5,
    n=100,
    n_iter=100,
    weights="pretrained",
    checks=None,
    card=None,
    extra_scores=None,
    created_at="2026-01-01T00:00:00+00:00",
    task=None,
):
    eps = float(eps_text.split("/")[0]) / 255 if "/" in eps_text else float(eps_text)
    scores = {"clean": clean, "robust": robust, "n": n, "per_split": {}}
    scores.update(extra_scores or {})
    return EvaluationResult(
        model=model,
        model_card=card or {"name": model, "family": "clip", "backbone": "ConvNeXt-B", "robust_training": "none", "finetuning": "none"},
        weights=weights,
        dataset=dataset,
        split=split,
        task=task or DATASET_TASKS.get(dataset, "2afc"),
        threat=ThreatModel(norm, eps, eps_text),
        attack=AttackConfig("apgd-ce", norm, eps, eps_text, n_iter=n_iter, n_restarts=1, seed=0),
        config={"model": model, "n_iter": n_iter, "n_ex": n},
        scores=Scores.from_dict(scores),
        timing={"total_s": 1.0},
        environment={"versions": {"torch": "2.x-test", "perceptbench": "0.1.0"}, "device": "cpu (test)", "git_revision": "abc123def456"},
        created_at=created_at,
        checks=checks_from_dict(checks),
        protocol={"labels": "hard"} if (task or DATASET_TASKS.get(dataset, "2afc")) == "2afc" else {},
    )


def write_fixture_results(results_dir: Path) -> dict[str, Path]:
    """A small results folder: verified, measured-only, random-weight, injected-name, sweep, malformed and foreign files."""
    written = {}
    deep = results_dir / "gpu-node" / "2026-01"

    def write(result, folder=results_dir):
        return write_result(result, [], folder)

    written["verified"] = write(make_result("r-clip-f-convnext", clean=0.91, robust=0.80, card=CONVNEXT_CARD))
    write(make_result("r-clip-f-convnext", norm="l2", eps_text="3.0", clean=0.91, robust=0.60, card=CONVNEXT_CARD), deep)
    # Sweep over eps and over iterations; the weaker 10-iteration attack and the 10-sample run must not set the cell.
    for eps_text, robust in (("1/255", 0.90), ("2/255", 0.88), ("8/255", 0.40)):
        write(make_result("r-clip-f-convnext", eps_text=eps_text, clean=0.91, robust=robust, n_iter=100, card=CONVNEXT_CARD), deep)
    write(make_result("r-clip-f-convnext", clean=0.91, robust=0.85, n_iter=10, card=CONVNEXT_CARD), deep)
    write(make_result("r-clip-f-convnext", clean=0.5, robust=0.05, n=10, n_iter=200, card=CONVNEXT_CARD), deep)
    written["failed_check"] = write(
        make_result(
            "clip-convnext",
            clean=0.87,
            robust=0.0,
            checks={"large_eps_reaches_zero": {"passed": False, "robust_at_large_eps": 0.3}, "square_finds_nothing_new": {"passed": True}},
        )
    )
    written["injected"] = write(make_result(INJECTED_NAME, clean=0.95, robust=0.95))
    written["random"] = write(make_result("clip-convnext", clean=0.99, robust=0.99, weights="random"))
    written["measured_only"] = write(
        make_result(
            "ssim",
            dataset="demo",
            split="demo",
            clean=0.8,
            robust=0.4,
            weights="none",
            card={"name": "ssim", "family": "classical", "backbone": "SSIM"},
        )
    )
    written["extra_scores"] = write(
        make_result(
            "ssim",
            dataset="detect",
            split="nsfw-porn-query",
            clean=0.7,
            robust=0.2,
            weights="none",
            eps_text="8/255",
            extra_scores={"frac_safe": 0.1, "frac_buffer": 0.2, "confusion": [[1, 2], [3, 4]]},
        )
    )
    written["no_scores"] = write(make_result("ssim", dataset="things", split=None, weights="none"))
    no_scores = json.loads(written["no_scores"].read_text())
    no_scores["scores"] = {"odd_one_out_accuracy": 0.5}
    written["no_scores"].write_text(json.dumps(no_scores))
    written["malformed"] = results_dir / "nights" / "half-written.json"
    written["malformed"].write_text('{"schema_version": 1, "model": ')
    written["foreign"] = results_dir / "notes" / "wandb-summary.json"
    written["foreign"].parent.mkdir(parents=True, exist_ok=True)
    written["foreign"].write_text('{"loss": 0.1}')
    return written
