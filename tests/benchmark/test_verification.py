"""End to end: an honest smoke submission verified and signed; edits, forgeries, foreign keys and hostile cards refused."""

import json
import shutil
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paper_data import write_installed_distribution

from benchmark.submissions.schema import read_submission
from benchmark.submissions.submission import create_submission, verify_submission
from benchmark.submissions.submitted_metric import MetricLoadRefused
from benchmark.submissions.verification import (
    CHANGED,
    NOT_VERIFIED,
    VerificationStatement,
    sign_statement,
    submission_status,
    write_statement,
)
from model_zoo import registry

PLUGIN = """
from model_zoo import PairwiseModel

class SquaredDifference(PairwiseModel):
    def pairwise_sim(self, x, y):
        return 1 - (x - y).pow(2).flatten(1).mean(dim=1)

def squared(pretrained=True, scale=1.0):
    return SquaredDifference()
"""
CARD = {"authors": ["A. Author"], "link": "https://example.org/acme", "license": "MIT", "weights": {"kind": "none"}}
HUBCONF = "import pathlib\npathlib.Path(__file__).with_name('PWNED').write_text('ran')\ndef evil(**kwargs):\n    return None\n"
QUIET = dict(progress=False, echo=lambda line: None)


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    """One honest smoke submission of an installed third-party metric, verified here (the session's cache holds the key)."""
    root = tmp_path_factory.mktemp("verification")
    site = write_installed_distribution(root / "site", "acme_verify", textwrap.dedent(PLUGIN), {"acme-sq": "acme_verify:squared"})
    sys.path.insert(0, str(site))
    registry._entry_points_loaded = False
    card = root / "card.json"
    card.write_text(json.dumps(CARD))
    folder = root / "submissions" / "acme-sq"
    create_submission(
        "acme-sq", folder, card_file=card, smoke=True, threats=("linf",), n_ex=8, batch_size=8, n_iter=3, square_queries=4, **QUIET
    )
    statement = verify_submission(folder, n=4, **QUIET)
    yield folder, statement
    sys.path.remove(str(site))
    registry._FACTORIES.pop("acme-sq", None)
    registry._CARDS.pop("acme-sq", None)
    sys.modules.pop("acme_verify", None)


def _copy(folder, tmp_path):
    target = tmp_path / "submissions" / folder.name
    shutil.copytree(folder, target)
    return target


def test_an_honest_submission_is_verified_by_a_signed_statement(verified):
    folder, statement = verified
    assert statement.status == "verified", statement.reasons
    standing = submission_status(folder)
    assert standing.status == "verified" and standing.label == "verified (subset, n=4) [smoke: demo only]"
    signed = json.loads((folder / "verification.json").read_text())
    assert signed["algorithm"] == "ed25519" and len(signed["statement"]["subsets"][0]["sample_ids"]) == 4
    assert {"submission.json", *read_submission(folder).results} <= set(signed["statement"]["files"])
    assert any(path.endswith(".samples.csv") for path in signed["statement"]["files"])


def test_an_edit_after_verification_is_flagged(verified, tmp_path):
    folder = _copy(verified[0], tmp_path)
    result_file = folder / read_submission(folder).results[0]
    data = json.loads(result_file.read_text())
    data["scores"]["robust"] = min(1.0, data["scores"]["robust"] + 0.3)
    result_file.write_text(json.dumps(data))
    standing = submission_status(folder)
    assert standing.status == "flagged" and standing.label.startswith(CHANGED)
    assert any(read_submission(folder).results[0] in reason for reason in standing.reasons)


def test_a_hand_written_verification_is_not_believed(verified, tmp_path):
    folder = _copy(verified[0], tmp_path)
    (folder / "verification.json").write_text(json.dumps({"status": "verified"}))
    standing = submission_status(folder)
    assert standing.status == "submitted" and standing.label.startswith(NOT_VERIFIED)


def test_a_statement_signed_by_another_key_counts_only_when_that_key_is_trusted(verified, tmp_path):
    from cryptography.hazmat.primitives import serialization

    folder = _copy(verified[0], tmp_path)
    signed = json.loads((folder / "verification.json").read_text())
    other = Ed25519PrivateKey.generate()
    write_statement(folder, sign_statement(VerificationStatement.model_validate(signed["statement"]), other))
    assert submission_status(folder).status == "submitted"
    public = tmp_path / "maintainer.pub"
    public.write_bytes(other.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    from benchmark.submissions.verification import trusted_keys

    assert submission_status(folder, trusted_keys([public])).status == "verified"
    # a forged signature under a trusted key does not verify either
    signed = json.loads((folder / "verification.json").read_text())
    signed["statement"]["claims"][0]["rerun"] = 1.0
    (folder / "verification.json").write_text(json.dumps(signed))
    assert submission_status(folder, trusted_keys([public])).status == "submitted"


def _hostile(folder, tmp_path, card_update, config_update=None):
    target = _copy(folder, tmp_path)
    (target / "hubconf.py").write_text(HUBCONF)
    record = json.loads((target / "submission.json").read_text())
    record["card"].update(card_update)
    (target / "submission.json").write_text(json.dumps(record))
    if config_update:
        result_file = target / record["results"][0]
        data = json.loads(result_file.read_text())
        data["config"].update(config_update)
        result_file.write_text(json.dumps(data))
    return target


@pytest.mark.parametrize(
    "card_update,message",
    [
        ({"name": "torch.hub:load", "loader": "module", "package": "torch"}, "perceptbench or one of its dependencies"),
        ({"name": "torch.hub:load", "loader": "registered"}, "is not a registered model"),
        ({"name": "torch.hub:load", "loader": "module", "package": None}, "needs the card's 'package'"),
        ({"name": "torch.hub:load", "loader": "module", "package": "acme-verify"}, "is not a file of the installed distribution"),
        ({"name": "hubconf:evil", "loader": "module", "package": "acme-verify"}, "is not a file of the installed distribution"),
    ],
)
def test_a_card_naming_other_code_is_refused_and_nothing_runs(verified, tmp_path, card_update, message):
    folder = _hostile(verified[0], tmp_path, card_update, {"model_kwargs": {"repo_or_dir": "X", "source": "local", "model": "evil"}})
    with pytest.raises(MetricLoadRefused, match=message):
        verify_submission(folder, n=2, **QUIET)
    assert not (folder / "PWNED").exists()


def test_model_kwargs_from_a_result_file_are_refused_before_anything_runs(verified, tmp_path):
    folder = _hostile(verified[0], tmp_path, {}, {"model_kwargs": {"repo_or_dir": str(tmp_path), "source": "local"}})
    with pytest.raises(ValueError, match="config.model_kwargs"):
        verify_submission(folder, n=2, **QUIET)
    assert not (folder / "PWNED").exists() and not (folder / "verification").joinpath("x").exists()


@pytest.mark.parametrize(
    "model_kwargs,message",
    [({"repo_or_dir": "."}, "are not parameters of 'acme-sq'"), ({"scale": [1, 2]}, "field card.model_kwargs.scale")],
)
def test_card_model_kwargs_must_be_declared_scalars(verified, tmp_path, model_kwargs, message):
    folder = _hostile(verified[0], tmp_path, {"model_kwargs": model_kwargs})
    with pytest.raises(ValueError, match=message):
        verify_submission(folder, n=2, **QUIET)


def test_copies_of_displayed_fields_must_agree(verified, tmp_path):
    folder = _copy(verified[0], tmp_path)
    result_file = folder / read_submission(folder).results[0]
    data = json.loads(result_file.read_text())
    data["dataset"], data["split"] = "nights", "test"
    result_file.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="dataset: says 'nights' but config.dataset says 'demo'"):  # the result schema refuses it
        verify_submission(folder, n=2, **QUIET)


DISPLAYED_COPIES = ("model", "dataset", "split", "threat", "eps", "attack", "n_iter", "n_restarts", "seed", "square_queries")


def _edited(key, value):
    if value is None:  # the runner's default (eps of the threat, the dataset's own split): give another
        return "8/255" if key == "eps" else "edited"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise AssertionError(f"unexpected config value {value!r}")
    if isinstance(value, int):
        return value + 1
    return {"linf": "l2", "l2": "linf"}.get(value, f"{value}-edited")


@pytest.mark.parametrize("key", DISPLAYED_COPIES)
def test_a_disagreeing_copy_is_refused_by_the_result_schema_alone(verified, tmp_path, key):
    """One check of the displayed fields' copies (benchmark/schema.py): verify refuses with exactly the schema's words."""
    from benchmark.schema import SchemaError, validate_result

    folder = _copy(verified[0], tmp_path)
    result_file = folder / read_submission(folder).results[0]
    data = json.loads(result_file.read_text())
    data["config"][key] = _edited(key, data["config"][key])
    result_file.write_text(json.dumps(data))
    with pytest.raises(SchemaError) as by_schema:
        validate_result(data)
    with pytest.raises(ValueError) as by_verify:
        verify_submission(folder, n=2, **QUIET)
    assert str(by_schema.value) in str(by_verify.value)


def test_copies_the_schema_lets_a_file_leave_out_are_not_required_by_a_second_check(verified, tmp_path):
    """A result file may leave config copies out (the schema allows it); verify re-runs what is displayed, so it verifies."""
    folder = _copy(verified[0], tmp_path)
    result_file = folder / read_submission(folder).results[0]
    data = json.loads(result_file.read_text())
    for key in DISPLAYED_COPIES:
        data["config"].pop(key)
    result_file.write_text(json.dumps(data))
    statement = verify_submission(folder, n=4, **QUIET)
    assert statement.status == "verified", statement.reasons


def test_a_standard_claim_without_its_sanity_checks_is_flagged(verified, tmp_path):
    folder = _copy(verified[0], tmp_path)
    result_file = folder / read_submission(folder).results[0]
    data = json.loads(result_file.read_text())
    data["checks"] = {}
    result_file.write_text(json.dumps(data))
    statement = verify_submission(folder, n=4, **QUIET)
    assert statement.status == "flagged"
    assert any("without its sanity checks" in reason for reason in statement.reasons)


@pytest.mark.parametrize("content", ["[]", '{"card": []}'])
def test_a_submission_json_of_the_wrong_shape_is_one_line(tmp_path, content):
    (tmp_path / "submission.json").write_text(content)
    with pytest.raises(ValueError) as error:
        read_submission(tmp_path)
    assert "submission.json" in str(error.value) and "\n" not in str(error.value)


def test_the_cache_rule_agrees_with_model_zoo(tmp_path, monkeypatch):
    from benchmark.submissions.verification import _cache_dir
    from model_zoo.weights import perceptbench_cache_dir

    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path))
    assert _cache_dir() == perceptbench_cache_dir()
    monkeypatch.delenv("PERCEPTBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache_dir() == perceptbench_cache_dir()


def test_a_new_local_key_is_private_to_its_owner(tmp_path, monkeypatch):
    from benchmark.submissions.verification import local_key_path, signing_key

    monkeypatch.setenv("PERCEPTBENCH_CACHE", str(tmp_path))
    signing_key()
    assert local_key_path().stat().st_mode & 0o777 == 0o600
