"""Submissions: the checks, submit -> verify-submission -> leaderboard for a third-party metric, tampering flagged."""

import csv
import functools
import hashlib
import http.server
import json
import re
import sys
import textwrap
import threading

import pytest
from click.testing import CliRunner
from paper_data import write_installed_distribution

from benchmark.cli.bench import main
from benchmark.results import SAMPLES_SUFFIX
from benchmark.submissions.submission import (
    GRADIENT_FREE,
    SubmissionCard,
    SubmissionRejected,
    build_card,
    check_determinism,
    check_weights,
    create_submission,
    loading_card,
    read_submission,
    submission_status,
    verify_submission,
    wilson_interval,
)
from leaderboard import build_site, load_results
from model_zoo import create_model, registry

PLUGIN = '''
import torch
from model_zoo import PairwiseModel

class MeanAbsolute(PairwiseModel):
    """1 - mean squared difference (the name is historical; L1 resists sign steps at tiny budgets)."""

    def pairwise_sim(self, x, y):
        return 1 - (x - y).pow(2).flatten(1).mean(dim=1)

class Noisy(MeanAbsolute):
    def pairwise_sim(self, x, y):
        return super().pairwise_sim(x, y) + 0.01 * torch.rand(x.shape[0])

class DeclaredNoisy(Noisy):
    is_randomised = True

    def pairwise_sim(self, x, y):  # noise below the self-similarity tolerance (1e-5), so that check never flakes
        return MeanAbsolute.pairwise_sim(self, x, y) + 1e-5 * torch.rand(x.shape[0])

class DistanceAsSimilarity(MeanAbsolute):
    def pairwise_sim(self, x, y):
        return (x - y).pow(2).flatten(1).mean(dim=1)

class Rounded(MeanAbsolute):
    def pairwise_sim(self, x, y):
        with torch.no_grad():
            return super().pairwise_sim(x, y)

class Weighted(MeanAbsolute):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

def mean_absolute(pretrained=True):
    return MeanAbsolute()

def noisy(pretrained=True):
    return Noisy()

def declared_noisy(pretrained=True):
    return DeclaredNoisy()

def distance_as_similarity(pretrained=True):
    return DistanceAsSimilarity()

def rounded(pretrained=True):
    return Rounded()

def weighted(pretrained=True):
    return Weighted()
'''
CARD = {"authors": ["A. Author", "B. Author"], "link": "https://example.org/acme", "license": "MIT", "weights": {"kind": "none"}}
TINY = dict(threats=("linf",), batch_size=16, n_iter=10, square_queries=8, progress=False, echo=lambda line: None)


@pytest.fixture
def acme(tmp_path, monkeypatch):
    """A third-party distribution as pip leaves it: a module, and its dist-info naming an entry point."""
    package = write_installed_distribution(
        tmp_path / "site", "acme_submit", textwrap.dedent(PLUGIN), {"acme-l1": "acme_submit:mean_absolute"}
    )
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    card = tmp_path / "card.json"
    card.write_text(json.dumps(CARD))
    yield card
    for name in [n for n in registry._FACTORIES if n == "acme-l1" or n.startswith("acme_submit:")]:
        registry._FACTORIES.pop(name, None)
        registry._CARDS.pop(name, None)
    sys.modules.pop("acme_submit", None)


def test_wilson_interval_contains_the_estimate_and_narrows_with_n():
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high and high - low < 0.27
    small = wilson_interval(5, 10)
    assert small[1] - small[0] > high - low
    assert wilson_interval(0, 200)[0] == 0.0 and wilson_interval(200, 200)[1] == pytest.approx(1.0)


def test_an_entry_point_metric_goes_submit_verify_leaderboard_as_verified(acme, tmp_path):
    folder = tmp_path / "submissions" / "acme-l1"
    record = create_submission("acme-l1", folder, card_file=acme, smoke=True, n_ex=16, **TINY)
    assert record.smoke and record.datasets == ["demo"] and not record.flags
    assert {c.name for c in record.checks} == {"card_complete", "weights", "deterministic", "self_similarity_max", "gradients"}
    assert record.card.authors == CARD["authors"] and "preprocessing" not in record.card.to_dict()  # the class says it
    assert "versions" in record.environment
    assert submission_status(folder).status == "submitted"

    verification = verify_submission(folder, n=8, seed=1, progress=False, echo=lambda line: None)
    assert verification.status == "verified", verification.reasons
    assert verification.label == "verified (subset, n=8)" and verification.interval == "Wilson score"
    assert (folder / "verification.json").is_file()

    frame = load_results(folder / "results", tmp_path / "submissions")
    assert set(frame["status"]) == {"measured", "verified"}  # the folder read as plain results, and as a submission
    (tmp_path / "results").mkdir()
    written = build_site(tmp_path / "results", tmp_path / "site", include_reported=False, submissions_dir=tmp_path / "submissions")
    markdown = written["markdown"].read_text()
    assert "acme-l1" in markdown and "verified (subset, n=8) [smoke: demo only]" in markdown
    assert "[standard]" in markdown


def _tamper(result_file, points: float):
    """Claim `points` more robust accuracy, in the result and (consistently) in its per-sample outcomes."""
    data = json.loads(result_file.read_text())
    samples_file = result_file.with_name(result_file.stem + SAMPLES_SUFFIX)
    rows = list(csv.DictReader(samples_file.open()))
    flip = round(points * len(rows))
    broken = [r for r in rows if float(r["robust_score"]) == 0.0][:flip]
    assert len(broken) == flip, "the tiny attack must break enough samples to tamper with"
    for row in broken:
        row["robust_score"], row["robust_prediction"] = "1.0", row["label"]
    with samples_file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    robust = sum(float(r["robust_score"]) for r in rows) / len(rows)
    lo, hi = wilson_interval(robust * len(rows), len(rows))  # a careful forger keeps the interval consistent too
    for scores in (data["scores"], *data["scores"]["per_split"].values()):
        scores["robust"] = robust
        if "robust" in scores.get("intervals", {}):
            scores["intervals"]["robust"].update(lo=lo, hi=hi)
    result_file.write_text(json.dumps(data))


def test_a_submission_claiming_20_points_more_robustness_is_flagged(acme, tmp_path):
    folder = tmp_path / "submissions" / "tampered"
    record = create_submission("acme-l1", folder, card_file=acme, smoke=True, n_ex=120, **{**TINY, "batch_size": 60})
    _tamper(folder / record.results[0], 0.20)
    verification = verify_submission(folder, n=120, progress=False, echo=lambda line: None)
    assert verification.status == "flagged"
    assert any("claimed robust" in reason and "Wilson interval" in reason for reason in verification.reasons)
    standing = submission_status(folder)
    assert standing.status == "flagged" and standing.reasons
    (tmp_path / "results").mkdir()
    site = build_site(tmp_path / "results", tmp_path / "site", include_reported=False, submissions_dir=tmp_path / "submissions")
    page = next((tmp_path / "site" / "models").glob("acme-l1*.html")).read_text()
    assert "Flagged" in page and "Wilson interval" in page
    row = next(line for line in site["markdown"].read_text().splitlines() if line.startswith("| acme-l1 "))
    assert "flagged" in row


def test_a_claim_its_own_samples_do_not_support_is_flagged(acme, tmp_path):
    folder = tmp_path / "s"
    record = create_submission("acme-l1", folder, card_file=acme, smoke=True, n_ex=8, **TINY)
    result_file = folder / record.results[0]
    data = json.loads(result_file.read_text())
    data["scores"]["robust"] = min(1.0, data["scores"]["robust"] + 0.2)
    result_file.write_text(json.dumps(data))
    verification = verify_submission(folder, n=8, progress=False, echo=lambda line: None)
    assert verification.status == "flagged"
    assert any("its own per-sample outcomes give" in reason for reason in verification.reasons)


@pytest.mark.parametrize(
    "factory,card_update,message",
    [
        ("mean_absolute", {"authors": []}, "card incomplete: missing authors"),
        ("mean_absolute", {"license": ""}, "missing license"),
        ("weighted", {}, "the card names no weights but the model has 1 parameters"),
        ("noisy", {}, "a randomised metric must declare itself"),
        ("distance_as_similarity", {}, "sim(x, x) is not the maximum"),
    ],
)
def test_each_blocking_check_rejects_with_a_clear_message(acme, tmp_path, factory, card_update, message):
    card = tmp_path / "card-variant.json"
    card.write_text(json.dumps({**CARD, **card_update}))
    with pytest.raises(SubmissionRejected, match=message.replace("(", r"\(").replace(")", r"\)")):
        create_submission(f"acme_submit:{factory}", tmp_path / "out", card_file=card, smoke=True, n_ex=4, **TINY)
    assert not (tmp_path / "out").exists()  # nothing is evaluated or written for a rejected submission


def test_weights_must_be_reachable_with_the_recorded_hash(acme, tmp_path):
    model = create_model("acme_submit:weighted")
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"tensor bytes")
    digest = hashlib.sha256(b"tensor bytes").hexdigest()
    card = SubmissionCard(name="w", weights={"kind": "url", "url": f"file://{weights}", "sha256": digest})
    assert check_weights(card, model).passed
    wrong = SubmissionCard(name="w", weights={"kind": "url", "url": f"file://{weights}", "sha256": "0" * 64})
    assert "the card records" in check_weights(wrong, model).message
    assert (
        "not 64 hex digits"
        in check_weights(SubmissionCard(name="w", weights={"kind": "url", "url": "file:///x", "sha256": "abc"}), model).message
    )
    missing = SubmissionCard(name="w", weights={"kind": "url", "url": f"file://{tmp_path}/gone.pt", "sha256": digest})
    assert "does not exist" in check_weights(missing, model).message
    assert (
        "is not installed"
        in check_weights(SubmissionCard(name="w", weights={"kind": "package", "package": "no-such-package-xyz"}), model).message
    )
    assert check_weights(SubmissionCard(name="w", weights={"kind": "package", "package": "torch"}), model).passed


@pytest.fixture
def weights_server(tmp_path, monkeypatch):
    """An HTTP server on localhost serving tmp_path/served/, with an empty weights cache of its own."""
    from model_zoo import fetch

    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(fetch, "host_reachable", lambda host, timeout=3.0: True)  # it probes port 443, not the server's
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_url_weights_are_downloaded_to_the_cache_and_their_sha256_checked(acme, weights_server):
    from model_zoo import WeightsSource
    from model_zoo.download import cached_path

    served, base = weights_server
    (served / "acme-weights.pt").write_bytes(b"remote tensor bytes")
    (served / "tampered.pt").write_bytes(b"other bytes")
    digest = hashlib.sha256(b"remote tensor bytes").hexdigest()
    model = create_model("acme_submit:weighted")

    good = check_weights(SubmissionCard(name="w", weights={"kind": "url", "url": f"{base}/acme-weights.pt", "sha256": digest}), model)
    assert good.passed, good.message
    assert cached_path(WeightsSource(url=f"{base}/acme-weights.pt")).read_bytes() == b"remote tensor bytes"
    tampered = check_weights(SubmissionCard(name="w", weights={"kind": "url", "url": f"{base}/tampered.pt", "sha256": digest}), model)
    assert not tampered.passed and "sha256" in tampered.message and digest in tampered.message
    gone = check_weights(SubmissionCard(name="w", weights={"kind": "url", "url": f"{base}/gone.pt", "sha256": digest}), model)
    assert not gone.passed and "could not download" in gone.message


def test_a_declared_randomised_metric_is_evaluated_with_expectation_over_transformation(acme, tmp_path):
    """The class declares it; a schema-2 card that says so too is accepted (it agrees), and the record keeps no copy."""
    card = tmp_path / "card-schema-2.json"
    card.write_text(json.dumps({**CARD, "randomised": True}))
    folder = tmp_path / "random"
    record = create_submission("acme_submit:declared_noisy", folder, card_file=card, smoke=True, n_ex=4, **TINY)
    assert "randomised" not in record.card.to_dict() and "preprocessing" not in record.card.to_dict()
    assert "randomised, as its class declares" in {c.name: c.message for c in record.checks}["deterministic"]
    result = json.loads((folder / record.results[0]).read_text())
    assert result["protocol"]["expectation_over_transformation"] == 8
    assert result["metric"]["is_randomised"] is True


def test_a_card_cannot_declare_a_metric_randomised_that_its_class_does_not(acme, tmp_path):
    """The old hole: a noisy metric randomised only in its card passed as 'evaluated with EOT' and was never wrapped in it."""
    card = tmp_path / "card-randomised.json"
    card.write_text(json.dumps({**CARD, "randomised": True}))
    expected = (
        f'{card}: the card says "randomised": true but Noisy.is_randomised is False; the class decides (it chooses expectation '
        'over transformation): set `is_randomised = True` on Noisy or delete "randomised" from the card'
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        create_submission("acme_submit:noisy", tmp_path / "out", card_file=card, smoke=True, n_ex=4, **TINY)
    assert not (tmp_path / "out").exists()
    check = check_determinism(create_model("acme_submit:noisy"))  # no card to consult: the class alone decides
    assert not check.passed and "a randomised metric must declare itself" in check.message
    card.write_text(json.dumps({**CARD, "randomised": False}))
    with pytest.raises(ValueError, match=re.escape("DeclaredNoisy.is_randomised is True; the class decides")):
        build_card(loading_card("acme_submit:declared_noisy", {}), create_model("acme_submit:declared_noisy"), card)
    with pytest.raises(ValueError, match=re.escape("field randomised: Extra inputs are not permitted")):
        SubmissionCard.from_dict({"name": "w", "randomised": True})


def test_a_cards_preprocessing_must_be_the_models_own(acme, tmp_path):
    model = create_model("acme_submit:mean_absolute")
    loading, card = loading_card("acme_submit:mean_absolute", {}), tmp_path / "card-preprocessing.json"
    own = json.loads(json.dumps(model.input_preprocessing.to_dict()))
    card.write_text(json.dumps({**CARD, "preprocessing": own}))
    assert "preprocessing" not in build_card(loading, model, card).to_dict()  # agreeing: accepted, and dropped
    card.write_text(json.dumps({**CARD, "preprocessing": {**own, "resize": [96, 96]}}))
    with pytest.raises(
        ValueError, match=re.escape('the card says "preprocessing" resize is [96, 96] but MeanAbsolute.input_preprocessing')
    ):
        build_card(loading, model, card)
    card.write_text(json.dumps({**CARD, "preprocessing": "resize to 96"}))
    with pytest.raises(ValueError, match=re.escape('delete "preprocessing" from the card')):
        build_card(loading, model, card)


def test_a_schema_2_record_reads_as_schema_3_without_the_class_facts(acme, tmp_path):
    folder = tmp_path / "old"
    record = create_submission("acme-l1", folder, card_file=acme, smoke=True, n_ex=4, **TINY)
    data = json.loads((folder / "submission.json").read_text())
    assert data["schema_version"] == 3
    data["schema_version"], data["card"]["randomised"], data["card"]["preprocessing"] = 2, False, {"resize": None}
    (folder / "submission.json").write_text(json.dumps(data))
    assert read_submission(folder) == record


def test_a_gradient_free_metric_is_accepted_but_flagged_never_silently_robust(acme, tmp_path):
    folder = tmp_path / "submissions" / "rounded"
    record = create_submission("acme_submit:rounded", folder, card_file=acme, smoke=True, n_ex=8, **TINY)
    assert record.flags == [GRADIENT_FREE]
    result = json.loads((folder / record.results[0]).read_text())
    assert result["checks"]["gradients"]["passed"] is False and "black-box attacks only" in result["checks"]["gradients"]["detail"]
    members = {m["name"]: m for m in result["ensemble"]["members"]}
    assert members["apgd-ce"]["skipped_on"] > 0 and members["square"]["skipped_on"] == 0
    standing = submission_status(folder)
    assert standing.status == "flagged" and GRADIENT_FREE in standing.reasons


def test_cli_submit_verify_and_results(acme, tmp_path):
    folder = tmp_path / "submissions" / "acme-l1"
    runner = CliRunner()
    submitted = runner.invoke(
        main,
        [
            "submit",
            "--model",
            "acme-l1",
            "--out",
            str(folder),
            "--card",
            str(acme),
            "--smoke",
            "--threat",
            "linf",
            "--n-ex",
            "6",
            "--batch-size",
            "6",
            "--n-iter",
            "2",
            "--square-queries",
            "5",
            "--quiet",
        ],
    )
    assert submitted.exit_code == 0, submitted.output
    assert "check card_complete: passed" in submitted.output and "bench verify-submission" in submitted.output
    verified = runner.invoke(main, ["verify-submission", str(folder), "--n", "4", "--quiet"])
    assert verified.exit_code == 0, verified.output
    assert "verified (subset, n=4)" in verified.output and "accepted" in verified.output
    (tmp_path / "results").mkdir()
    table = runner.invoke(
        main, ["results", "--results", str(tmp_path / "results"), "--submissions", str(tmp_path / "submissions"), "--status", "verified"]
    )
    assert table.exit_code == 0, table.output
    assert "acme-l1" in table.output and "standard" in table.output and "| model" in table.output
    as_csv = runner.invoke(
        main, ["results", "--results", str(tmp_path / "results"), "--submissions", str(tmp_path / "submissions"), "--format", "csv"]
    )
    assert as_csv.output.splitlines()[0].startswith(
        "model,family,dataset,split,protocol,threat,eps,attack,clean,clean_lo,clean_hi,robust,robust_lo,robust_hi,n,status"
    )
    rejected = runner.invoke(main, ["submit", "--model", "acme_submit:noisy", "--out", str(tmp_path / "x"), "--card", str(acme), "--smoke"])
    assert rejected.exit_code != 0 and "a randomised metric must declare itself" in rejected.output and "Traceback" not in rejected.output
