import numpy as np
import pytest
import torch

from attacks import twoafc_cross_entropy, twoafc_margin, twoafc_predictions
from benchmark.datasets import DatasetError, TwoAFCDataset
from benchmark.datasets.bapps import load_bapps, read_bapps_split
from benchmark.datasets.demo import DEMO_TRIPLETS, demo_root, write_demo
from benchmark.tasks import AttackConfig, TwoAFCTask, twoafc_labels, twoafc_score
from model_zoo import create_model


def test_twoafc_score_is_judge_weighted_agreement():
    predictions = torch.tensor([1, 0, 1, 0])
    judge = torch.tensor([0.8, 0.8, 0.0, 0.0])
    assert twoafc_score(predictions, judge).tolist() == pytest.approx([0.8, 0.2, 0.0, 1.0])
    assert twoafc_labels(torch.tensor([0.4, 0.5, 0.6])).tolist() == [0, 0, 1]


def test_predictions_break_ties_towards_the_first_candidate():
    logits = torch.tensor([[0.5, 0.5], [0.2, 0.3], [0.3, 0.2]])
    assert twoafc_predictions(logits).tolist() == [0, 1, 0]


def test_losses_are_positive_when_fooled():
    logits = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    labels = torch.tensor([0, 0])
    assert twoafc_margin(logits, labels).tolist() == pytest.approx([-0.8, 0.8])
    ce = twoafc_cross_entropy(logits, labels)
    assert ce[1] > ce[0]


def test_bapps_loader_reads_the_demo(demo_dataset):
    assert isinstance(demo_dataset, TwoAFCDataset)
    assert len(demo_dataset) == DEMO_TRIPLETS >= 200
    item = demo_dataset[0]
    for key in ("reference", "candidate_0", "candidate_1"):
        assert item[key].shape == (3, 64, 64)
        assert 0.0 <= item[key].min() and item[key].max() <= 1.0
    judges = np.array([t.judge for t in demo_dataset.triplets])
    assert ((judges >= 0) & (judges <= 1)).all()
    assert 0.2 < (judges > 0.5).mean() < 0.8  # both candidates win often
    root = demo_root()
    assert sorted(p.name for p in (root / "demo").iterdir()) == ["judge", "p0", "p1", "ref"]


def test_demo_is_deterministic(tmp_path, demo_dataset):
    write_demo(tmp_path / "demo", n_triplets=5)
    rebuilt = read_bapps_split(tmp_path / "demo")
    for original, again in zip(demo_dataset.triplets[:5], rebuilt):
        assert original.reference.read_bytes() == again.reference.read_bytes()
        assert original.candidate_1.read_bytes() == again.candidate_1.read_bytes()
        assert original.judge == again.judge


def test_bapps_loader_names_the_missing_file(tmp_path):
    write_demo(tmp_path / "traditional", n_triplets=3)
    (tmp_path / "traditional" / "judge" / "000001.npy").unlink()
    with pytest.raises(DatasetError, match="000001.npy"):
        load_bapps(tmp_path, splits=["traditional"])
    with pytest.raises(DatasetError, match="no 'ref/' folder"):
        read_bapps_split(tmp_path / "cnn")


def test_bapps_loader_names_a_corrupt_image(tmp_path):
    write_demo(tmp_path / "cnn", n_triplets=2)
    (tmp_path / "cnn" / "p0" / "000000.png").write_bytes(b"not a png")
    dataset = load_bapps(tmp_path, splits=["cnn"])
    with pytest.raises(DatasetError, match="000000.png"):
        dataset[0]


def test_clean_scores_without_attack_and_candidates_encoded_once(hard_label_batch):
    batch, positions = hard_label_batch
    model = create_model("pixel-l2")
    calls = []
    original = model.features
    model.features = lambda y: calls.append(y.shape) or original(y)
    outcomes = TwoAFCTask().evaluate_batch(model, batch, AttackConfig("apgd-ce", "linf", 4 / 255, "4/255", n_iter=10), "cpu", positions)
    assert len(calls) == 2  # x0 and x1, once each, not per iteration
    for outcome in outcomes:
        assert outcome.robust_score <= outcome.clean_score
        assert outcome.perturbation_norm <= 4 / 255 + 1e-6
