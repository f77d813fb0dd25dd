"""The speed-ups must not change results: same robust predictions with and without each one (fp32)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from attacks import ObjectiveOutput, TwoAFCObjective, apgd, twoafc_cross_entropy, twoafc_predictions
from benchmark.perf import ThroughputConfig, format_report, run_throughput
from benchmark.results import read_samples
from benchmark.runner import EvaluationConfig, run_evaluation
from benchmark.runtime.acceleration import Acceleration
from model_zoo import create_model

EPS = 1e-3  # small enough that some random-weight predictions survive, so both outcomes occur


@pytest.fixture(scope="module")
def convnet_case(demo_dataset):
    torch.manual_seed(0)
    model = create_model("clip-convnext", pretrained=False, reduced=True).eval()
    batch = default_collate([demo_dataset[i] for i in range(8)])
    with torch.no_grad():
        probe = TwoAFCObjective(model, batch["candidate_0"], batch["candidate_1"], torch.zeros(8, dtype=torch.long))
        labels = twoafc_predictions(probe.logits(batch["reference"]))  # every sample starts correct
    return model, batch, labels


def _attack(model, batch, labels, objective=None, **options):
    objective = objective or TwoAFCObjective(model, batch["candidate_0"], batch["candidate_1"], labels)
    result = apgd(objective, batch["reference"], eps=EPS, n_iter=6, seed=1, **options)
    with torch.no_grad():
        predictions = twoafc_predictions(TwoAFCObjective(model, batch["candidate_0"], batch["candidate_1"], labels).logits(result.x_adv))
    return result, predictions


def test_early_exit_and_its_interval_do_not_change_robust_predictions(convnet_case):
    model, batch, labels = convnet_case
    reference, reference_predictions = _attack(model, batch, labels, early_stop=False)
    assert 0 < int(reference.success.sum()) < len(labels), "the case must have both fooled and robust samples"
    for options in (dict(early_stop=True, compact_every=1), dict(early_stop=True, compact_every=4)):
        result, predictions = _attack(model, batch, labels, **options)
        assert torch.equal(result.success, reference.success), options
        assert torch.equal(predictions, reference_predictions), options
        assert torch.equal(result.success, predictions != labels)


def test_cached_candidate_features_do_not_change_robust_predictions(convnet_case):
    model, batch, labels = convnet_case

    def uncached(x, index):  # re-encodes both candidates at every step
        logits = torch.stack([model.sim(x, batch["candidate_0"][index]), model.sim(x, batch["candidate_1"][index])], dim=1)
        return ObjectiveOutput(loss=twoafc_cross_entropy(logits, labels[index]), success=twoafc_predictions(logits) != labels[index])

    cached, cached_predictions = _attack(model, batch, labels)
    recomputed, recomputed_predictions = _attack(model, batch, labels, objective=uncached)
    assert torch.equal(cached.success, recomputed.success)
    assert torch.equal(cached_predictions, recomputed_predictions)


def test_channels_last_gives_the_same_evaluation(tmp_path):
    common = dict(model="clip-convnext", pretrained=False, model_kwargs={"reduced": True}, n_ex=8, batch_size=4, n_iter=4, eps="1/255")
    _, plain = run_evaluation(EvaluationConfig(**common), tmp_path / "plain", progress=False)
    _, fast = run_evaluation(EvaluationConfig(**common, channels_last=True), tmp_path / "fast", progress=False)
    plain_samples, fast_samples = read_samples(plain), read_samples(fast)
    assert [s["robust_prediction"] for s in plain_samples] == [s["robust_prediction"] for s in fast_samples]
    assert [s["clean_prediction"] for s in plain_samples] == [s["clean_prediction"] for s in fast_samples]
    for a, b in zip(plain_samples, fast_samples):
        assert float(a["clean_sim_0"]) == pytest.approx(float(b["clean_sim_0"]), abs=1e-5)


def test_under_autocast_the_attack_arithmetic_stays_fp32(convnet_case):
    model, batch, labels = convnet_case
    with Acceleration(precision="bf16").autocast("cpu"):
        result, _ = _attack(model, batch, labels)
    assert result.x_adv.dtype == torch.float32 and result.loss.dtype == torch.float32
    assert (result.x_adv - batch["reference"]).abs().max() <= EPS + 1e-7
    assert 0.0 <= float(result.x_adv.min()) and float(result.x_adv.max()) <= 1.0


def test_throughput_report_has_floor_ours_reference_ratios_and_goals():
    pytest.importorskip("pyautoattack")
    report = run_throughput(ThroughputConfig(model_kwargs={"reduced": True}, image_size=32, batch_size=2, n_iter=2, repeats=1))
    assert set(report.measurements) == {"floor", "ours", "ours-early-stop", "reference"}
    assert all(m.seconds > 0 and m.samples == 2 for m in report.measurements.values())
    assert 0.0 <= report.measurements["reference"].robust_accuracy <= 1.0
    text = format_report(report)
    assert "ours/floor = " in text and "ours/reference = " in text
    assert "ours / reference <= 1.0" in text and "unmeasured (no GPU in this run)" in text


def test_largest_fitting_batch_finds_the_memory_wall():
    from benchmark.runtime.acceleration import auto_batch_size, largest_fitting_batch

    tried = []

    def fits_up_to_100(batch):
        tried.append(batch)
        return batch <= 100

    assert largest_fitting_batch(fits_up_to_100) == 64 and tried == [8, 16, 32, 64, 128]
    assert largest_fitting_batch(lambda batch: batch <= 3) == 2
    with pytest.raises(ValueError, match="not even a batch of 1"):
        largest_fitting_batch(lambda batch: False)
    assert auto_batch_size(torch.nn.Identity(), 64, "cpu") >= 1
