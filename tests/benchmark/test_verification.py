"""Signed verification end to end: honest -> verified; edited -> flagged; forged or foreign -> not verified; code never run."""

from __future__ import annotations

import json
import shutil

import pytest
from test_submission import CARD, TINY, acme  # noqa: F401  (the fixture: a third-party metric package)

from benchmark.submission import SubmissionRejected, create_submission, declared_metric, submission_status, verify_submission
from benchmark.verification import CHANGED, NOT_VERIFIED, load_or_create_signing_key, public_key_text, sign, trusted_keys
from leaderboard import build_site


@pytest.fixture
def verified(acme, tmp_path):  # noqa: F811
    folder = tmp_path / "submissions" / "acme-l1"
    create_submission("acme-l1", folder, card_file=acme, smoke=True, n_ex=16, **TINY)
    assert submission_status(folder).label.startswith(NOT_VERIFIED)
    verification = verify_submission(folder, n=8, seed=1, progress=False, echo=lambda line: None)
    assert verification.status == "verified", verification.reasons
    return folder


def _copy(folder, tmp_path, name):
    target = tmp_path / "copies" / name
    shutil.copytree(folder, target)
    return target


def test_an_honest_submission_reads_verified_and_binds_what_it_verified(verified):
    standing = submission_status(verified)
    assert standing.status == "verified" and standing.label == "verified (subset, n=8) [smoke: demo only]"
    envelope = json.loads((verified / "verification.json").read_text())
    statement = envelope["statement"]
    assert set(envelope) == {"statement", "signature", "public_key"}
    assert "submission.json" in statement["files"] and any(name.endswith(".samples.csv") for name in statement["files"])
    assert [len(ids) for ids in statement["subset_sample_ids"].values()] == [8]
    assert statement["verifier"].startswith("perceptbench ")


def test_an_edit_after_verification_is_flagged(verified, tmp_path):
    copy = _copy(verified, tmp_path, "edited")
    result_file = next((copy / "results").rglob("*.json"))
    data = json.loads(result_file.read_text())
    data["scores"]["robust"] = 0.99
    result_file.write_text(json.dumps(data))
    standing = submission_status(copy)
    assert standing.status == "flagged" and standing.label.startswith(CHANGED)
    assert any("changed after verification" in reason for reason in standing.reasons)


def test_a_hand_written_statement_is_not_verified(verified, tmp_path):
    copy = _copy(verified, tmp_path, "forged")
    (copy / "verification.json").write_text(json.dumps({"status": "verified"}))
    assert submission_status(copy).label.startswith(NOT_VERIFIED)


def test_a_statement_signed_by_another_key_counts_only_when_trusted(verified, tmp_path, monkeypatch):
    copy = _copy(verified, tmp_path, "foreign")
    envelope = json.loads((copy / "verification.json").read_text())
    from benchmark.verification import SignedStatement

    other = load_or_create_signing_key(tmp_path / "other.key")
    resigned = sign(SignedStatement.model_validate(envelope).statement, other)
    (copy / "verification.json").write_text(resigned.model_dump_json())
    assert submission_status(copy).label.startswith(NOT_VERIFIED)
    key_file = tmp_path / "other.pub"
    key_file.write_text(public_key_text(other))
    assert submission_status(copy, trusted_keys([key_file])).status == "verified"
    # A signature copied onto a changed statement does not verify.
    tampered = json.loads(resigned.model_dump_json())
    tampered["statement"]["claims"][0]["claimed"] = 0.5
    (copy / "verification.json").write_text(json.dumps(tampered))
    assert submission_status(copy, trusted_keys([key_file])).label.startswith(NOT_VERIFIED)


def test_the_leaderboard_shows_the_checked_status(verified, tmp_path):
    copy = _copy(verified, tmp_path, "edited-for-site")
    result_file = next((copy / "results").rglob("*.json"))
    result_file.write_text(result_file.read_text().replace('"robust": ', '"robust":  '))  # one byte more, same numbers
    (tmp_path / "results").mkdir()
    written = build_site(tmp_path / "results", tmp_path / "site", include_reported=False, submissions_dir=tmp_path / "copies")
    markdown = written["markdown"].read_text()
    assert CHANGED in markdown and "verified (subset" not in markdown


def test_a_result_file_cannot_name_code_for_the_verifier(acme, tmp_path):  # noqa: F811
    """The hubconf attack: a card naming torch.hub:load with kwargs pointing at a shipped hubconf.py."""
    folder = tmp_path / "evil"
    folder.mkdir()
    marker = tmp_path / "ran"
    (folder / "hubconf.py").write_text(f"open({str(marker)!r}, 'w').write('x')\ndef metric(**kw):\n    return None\n")
    card = {"name": "torch.hub:load", **CARD}
    with pytest.raises(SubmissionRejected, match="outside any package"):
        declared_metric(card, {"repo_or_dir": str(folder), "model": "metric", "source": "local"})
    with pytest.raises(SubmissionRejected, match="registers no perceptbench.models"):
        declared_metric({**card, "package": "torch"}, {"repo_or_dir": str(folder), "model": "metric", "source": "local"})
    assert not marker.exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"not_a_parameter": 1}, "not options"),
        ({"pretrained": False}, "not options"),
        ({"x": [1, 2]}, "JSON scalar"),
        ({"x": float("nan")}, "JSON scalar"),
    ],
)
def test_model_kwargs_must_be_declared_json_scalars(acme, kwargs, message):  # noqa: F811
    with pytest.raises(SubmissionRejected, match=message):
        declared_metric({"name": "acme-l1"}, kwargs)


def test_a_registered_name_or_a_declared_package_factory_is_accepted(acme):  # noqa: F811
    assert declared_metric({"name": "acme-l1"}, {}) == ("acme-l1", {})
    assert declared_metric({"name": "acme_submit:mean_absolute", "package": "acme_submit"}, {})[0] == "acme_submit:mean_absolute"
