"""Task scores against hand-computed values."""

import math

import pytest
import torch
from paper_data import write_detection, write_revisited

from attacks import AttackConfig
from benchmark.datasets import load_dataset
from benchmark.results import SampleOutcome
from benchmark.tasks import DetectionTask, RetrievalTask, twoafc_score
from benchmark.tasks.detection import confusion_fractions, nearest_neighbour_labels
from benchmark.tasks.oddoneout import odd_one_out_predictions
from benchmark.tasks.retrieval import protocol_sets, revisited_average_precision
from model_zoo import create_model

RED, YELLOW, BLUE, ORANGE, PURPLE = (220, 30, 30), (220, 220, 30), (30, 30, 220), (230, 140, 30), (120, 30, 200)


def test_soft_2afc_score_by_hand():
    predictions = torch.tensor([1, 0, 1, 0])
    judges = torch.tensor([0.8, 0.8, 0.4, 0.0])
    assert twoafc_score(predictions, judges).tolist() == pytest.approx([0.8, 0.2, 0.4, 1.0])


def test_odd_one_out_rule_by_hand():
    # triplet 0: images 1 and 2 are the close pair -> 0 is odd; triplet 1: 0 and 2 -> 1; triplet 2: 0 and 1 -> 2
    sim_01 = torch.tensor([0.1, 0.2, 0.9])
    sim_02 = torch.tensor([0.2, 0.8, 0.3])
    sim_12 = torch.tensor([0.7, 0.1, 0.3])
    assert odd_one_out_predictions(sim_01, sim_02, sim_12).tolist() == [0, 1, 2]


def test_nearest_neighbour_and_confusion_fractions_with_buffer_by_hand():
    pool_labels = torch.tensor([0, 0, 1, 2])  # safe, safe, buffer, unsafe
    similarities = torch.tensor(
        [
            [0.9, 0.1, 0.2, 0.3],  # -> safe
            [0.1, 0.2, 0.8, 0.3],  # -> buffer
            [0.1, 0.2, 0.3, 0.7],  # -> unsafe
            [0.1, 0.6, 0.3, 0.2],  # -> safe
        ]
    )
    labels, best = nearest_neighbour_labels(similarities, pool_labels)
    assert labels.tolist() == [0, 1, 2, 0] and best.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    classes = ["safe", "buffer", "unsafe"]
    outcomes = [
        SampleOutcome(clean_score=0.0, robust_score=0.0, attacked=False, clean_prediction=classes[int(i)], extra={"query_class": "safe"})
        for i in labels
    ] + [SampleOutcome(clean_score=1.0, robust_score=1.0, attacked=False, clean_prediction="unsafe", extra={"query_class": "unsafe"})]
    fractions = confusion_fractions(outcomes, classes, robust=False)
    assert fractions == {"safe": {"safe": 0.5, "buffer": 0.25, "unsafe": 0.25}, "unsafe": {"safe": 0.0, "buffer": 0.0, "unsafe": 1.0}}


def test_detection_task_on_class_folders_with_pixel_metric(tmp_path):
    """Colours make the nearest neighbour obvious: orange queries land in the yellow buffer, purple in blue."""
    write_detection(
        tmp_path / "detect" / "nsfw",
        {
            "pool": {"neutral": [RED, RED], "porn": [BLUE, BLUE], "sexy": [YELLOW]},
            "query": {"neutral": [RED, RED, ORANGE, PURPLE], "porn": [BLUE, PURPLE]},
        },
        manifest={"buffer": "sexy"},
    )
    dataset = load_dataset("detect", tmp_path)
    model = create_model("pixel-l2")
    task = DetectionTask()
    task.prepare(model, dataset, None, "cpu", batch_size=4)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    records = task.evaluate_batch(model, batch, None, "cpu", list(range(len(dataset))))
    scores = task.aggregate(records)
    assert scores.extra["clean_fractions"]["neutral"] == {"neutral": 0.5, "porn": 0.25, "sexy": 0.25}
    assert scores.extra["clean_fractions"]["porn"] == {"neutral": 0.0, "porn": 1.0, "sexy": 0.0}
    assert scores.clean == pytest.approx(4 / 6) and scores.extra["buffer"] == "sexy"


def test_revisited_average_precision_by_hand_with_junk():
    ranking = [3, 0, 5, 1, 2, 4]
    # junk 3 removed -> [0, 5, 1, 2, 4]; positives 0 at rank 0 and 2 at rank 3:
    # AP = 1/2 * (1 + 1)/2 + 1/2 * (1/3 + 2/4)/2 = 1/2 + 5/24 = 17/24
    assert revisited_average_precision(ranking, positives=[0, 2], junk=[3]) == pytest.approx(17 / 24)
    # without removing junk the second positive would sit at rank 4: a lower AP
    assert revisited_average_precision(ranking, positives=[0, 2], junk=[]) < 17 / 24
    assert revisited_average_precision([1, 0], positives=[0], junk=[]) == pytest.approx((0.0 + 0.5) / 2)
    assert math.isnan(revisited_average_precision(ranking, positives=[], junk=[3]))


def test_medium_and_hard_protocols():
    from benchmark.datasets.revisited import QueryGroundTruth

    truth = QueryGroundTruth(easy=(0,), hard=(2,), junk=(3,), bbx=None)
    assert protocol_sets(truth, "medium") == ((0, 2), (3,))
    assert protocol_sets(truth, "hard") == ((2,), (3, 0))
    ranking = [3, 0, 5, 1, 2, 4]
    # Hard: easy 0 and junk 3 ignored -> [5, 1, 2, 4]; the hard positive sits at rank 2: AP = (0/2 + 1/3)/2
    assert revisited_average_precision(ranking, *protocol_sets(truth, "hard")) == pytest.approx(1 / 6)


def test_retrieval_task_aggregates_medium_and_hard_and_skips_queries_without_positives():
    task = RetrievalTask()
    aps = [
        {"ap_medium_clean": 0.5, "ap_hard_clean": float("nan"), "ap_medium_robust": 0.25, "ap_hard_robust": float("nan")},
        {"ap_medium_clean": 1.0, "ap_hard_clean": 0.4, "ap_medium_robust": 0.75, "ap_hard_robust": 0.2},
    ]
    outcomes = [SampleOutcome(a["ap_medium_clean"], a["ap_medium_robust"], attacked=True, extra=a) for a in aps]
    scores = task.aggregate(outcomes)
    assert scores.clean == pytest.approx(0.75) and scores.robust == pytest.approx(0.5)
    assert scores.protocols["hard"].clean == pytest.approx(0.4) and scores.protocols["hard"].robust == pytest.approx(0.2)
    assert scores.to_dict()["map_hard_clean"] == pytest.approx(0.4)  # the file keeps schema 1's keys


@pytest.mark.parametrize("name", ["pixel-l2", "clip-convnext"])
def test_pool_similarities_match_pairwise_sim_for_both_kinds_of_metric(name):
    from conftest import small_model_kwargs

    from benchmark.tasks.pool import encode_images, similarity_to_set

    torch.manual_seed(0)
    model = create_model(name, pretrained=False, **small_model_kwargs(name)).eval()
    queries, pool = torch.rand(2, 3, 32, 32), torch.rand(5, 3, 32, 32)
    encoded = encode_images(model, lambda i: pool[i], len(pool), "cpu", batch_size=2)
    with torch.no_grad():
        matrix = similarity_to_set(model, queries, encoded, chunk=2)
        expected = torch.stack([model.sim(queries, pool[j].expand(2, -1, -1, -1)) for j in range(5)], dim=1)
    assert matrix.shape == (2, 5) and torch.allclose(matrix, expected, atol=1e-5)


def test_targeted_attack_moves_queries_into_the_target_class(tmp_path):
    """Pools 12/255 apart: an 8/255 push towards the target class crosses the midpoint; 2/255 does not."""
    grey, lighter = (128, 128, 128), (140, 140, 140)
    write_detection(
        tmp_path / "detect" / "guns",
        {"pool": {"safe": [grey], "unsafe": [lighter]}, "query": {"safe": [grey, grey]}, "target": {"unsafe": [lighter] * 2}},
        noise=0,
    )
    dataset = load_dataset("detect", tmp_path, "guns")
    model = create_model("pixel-l2")
    batch = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    robust = {}
    for eps in (2 / 255, 8 / 255):
        attack = AttackConfig(name="apgd-ce", norm="linf", eps=eps, eps_text=str(eps), n_iter=10)
        task = DetectionTask()
        task.prepare(model, dataset, attack, "cpu", batch_size=2)
        records = task.evaluate_batch(model, batch, attack, "cpu", [0, 1])
        assert [r.clean_prediction for r in records] == ["safe", "safe"]
        robust[eps] = [r.robust_prediction for r in records]
    assert robust == {2 / 255: ["safe", "safe"], 8 / 255: ["unsafe", "unsafe"]}


def test_untargeted_attack_pushes_the_query_to_the_boundary(tmp_path):
    """Eq. 6 with pixel-L2 maximises mean(delta^2): every pixel ends at +-eps. The +-eps noise is
    equally far from both flat negatives, so the flat positive stays first (AP 1 clean and robust)."""
    grey = (128, 128, 128)
    colours = {"pos": grey, "neg_dark": (122, 122, 122), "neg_light": (134, 134, 134), "q": grey}
    gnd = [{"easy": [0], "hard": [], "junk": [], "bbx": [0, 0, 40, 40]}]
    write_revisited(tmp_path, "rparis6k", ["pos", "neg_dark", "neg_light"], ["q"], gnd, colours, noise=0)
    dataset = load_dataset("rparis6k", tmp_path)
    model = create_model("pixel-l2")
    attack = AttackConfig(name="apgd-ce", norm="linf", eps=8 / 255, eps_text="8/255", n_iter=10)
    task = RetrievalTask()
    task.prepare(model, dataset, attack, "cpu", batch_size=2)
    [record] = task.evaluate_batch(model, torch.utils.data.default_collate([dataset[0]]), attack, "cpu", [0])
    assert record.perturbation_norm == pytest.approx(8 / 255, abs=1e-6)
    assert record.extra["ap_medium_clean"] == 1.0 and record.extra["ap_medium_robust"] == 1.0 and record.attacked
