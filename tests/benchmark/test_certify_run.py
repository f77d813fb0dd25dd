"""`bench evaluate --certify` and `--save-adversarial`: the result block, the sidecar, resuming, the checks, the gallery."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

import benchmark.runner as runner_module
from benchmark.certification import certificate_of
from benchmark.cli.bench import main
from benchmark.gallery import EXAMPLES_FILE, IMAGE_KINDS
from benchmark.results import CertifiedRadius, CertifiedScores, EvaluationResult, SampleOutcome, read_outcomes, read_result
from benchmark.runner import EvaluationConfig, run_evaluation
from benchmark.sanity import certificate_checks
from benchmark.schema import SchemaError, validate_gallery

SMALL_SMOOTHING = dict(certify="smoothing", certify_n=200, certify_n0=20, certify_n_ex=6)


def test_smoothing_run_records_per_sample_radii_and_the_certified_block(tmp_path):
    config = EvaluationConfig(model="pixel-l2", threat="l2", eps="0.25", n_ex=8, n_iter=5, batch_size=4, **SMALL_SMOOTHING)
    result, path = run_evaluation(config, tmp_path, progress=False)
    assert read_result(path) == result
    certified = result.certified
    assert certified is not None and certified.method == "smoothing" and certified.n == 6  # the first 6 of the 8 samples
    assert certified.parameters == {
        **{"sigma": 0.25, "n0": 20, "n": 200, "alpha": 0.001, "seed": 0, "certify_n_ex": 6},
        **{"attack_n_iter": 10, "attack_eot_draws": 8, "attack_draws": 1000, "attack_n_restarts": 1},
    }
    outcomes = read_outcomes(path)
    certificates = [certificate_of(o) for o in outcomes]
    assert [c is not None for c in certificates] == [True] * 6 + [False] * 2
    expected = sum(c.certifies(int(o.label), 0.25) for o, c in zip(outcomes, certificates) if c is not None) / 6
    assert certified.at_run == CertifiedRadius(0.25, "0.25", expected, "run", "l2 0.25")
    assert certified.at_run.accuracy <= certified.robust <= certified.clean
    assert "certified_le_robust_le_clean" not in result.checks  # the smoothed classifier may well be more robust than the metric
    assert "certified_not_broken" not in result.checks  # smoothing certifies another classifier than the one attacked
    smoothed = read_result(path).checks["smoothed_certified_not_broken"]  # ... which has its own attack
    assert smoothed.numbers["certified"] == certified.at_run.accuracy and smoothed.numbers["robust"] == certified.robust
    assert smoothed.passed is True and smoothed.numbers["attacked"] == sum(c is not None and c.prediction is not None for c in certificates)


def test_a_smoothing_radius_that_claims_too_much_fails_the_check_and_names_the_samples(tmp_path, monkeypatch):
    import benchmark.certification as certification

    honest = certification.smoothing_certificates

    def inflated(*args, **kwargs):
        return [replace(c, radius=c.radius + 3.0) if c.prediction is not None else c for c in honest(*args, **kwargs)]

    monkeypatch.setattr(certification, "smoothing_certificates", inflated)
    config = EvaluationConfig(model="pixel-l2", threat="l2", eps="0.25", n_ex=6, n_iter=3, batch_size=3, **SMALL_SMOOTHING)
    result, path = run_evaluation(config, tmp_path, progress=False)
    check = read_result(path).checks["smoothed_certified_not_broken"]
    flagged = [o.position for o in read_outcomes(path) if (c := certificate_of(o)) is not None and c.prediction is not None]
    assert check.passed is False and flagged and check.numbers["positions"] == flagged
    assert f"for {len(flagged)} of the {len(flagged)} smoothing certificates" in check.detail


def test_defaults_are_cohen_et_al_and_linf_runs_are_certified_at_the_enclosing_l2_radius(tmp_path):
    config = EvaluationConfig(model="pixel-l2", n_ex=2, n_iter=2, certify="smoothing", certify_n=50)
    assert (config.certify_sigma, config.certify_n0, config.certify_alpha, config.certify_n_ex) == (0.25, 100, 0.001, 100)
    result, _ = run_evaluation(config, tmp_path, progress=False)
    radius = result.certified.at_run
    assert radius.covers == "linf 4/255" and radius.eps == pytest.approx(4 / 255 * (3 * 64 * 64) ** 0.5)


def test_a_killed_certified_run_resumes_with_the_same_certificates(tmp_path, monkeypatch):
    config = EvaluationConfig(model="pixel-l2", threat="l2", eps="0.25", n_ex=8, n_iter=3, batch_size=2, **SMALL_SMOOTHING)
    fresh, fresh_path = run_evaluation(config, tmp_path / "fresh", progress=False)
    original, calls = runner_module.certify_batch, []

    def dies_on_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(runner_module, "certify_batch", dies_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(config, tmp_path / "killed", progress=False)
    monkeypatch.setattr(runner_module, "certify_batch", original)
    resumed, resumed_path = run_evaluation(config, tmp_path / "killed", progress=False)
    assert resumed.resumed_samples == 4
    assert [certificate_of(o) for o in read_outcomes(resumed_path)] == [certificate_of(o) for o in read_outcomes(fresh_path)]
    assert resumed.certified.radii == fresh.certified.radii


def test_lipschitz_on_a_reduced_lipsim_reports_lipsims_radii_and_no_certified_sample_is_broken(tmp_path):
    config = EvaluationConfig(
        model="lipsim-pretrained",
        pretrained=False,
        model_kwargs={"reduced": True},
        threat="l2",
        eps="0.5",
        n_ex=12,
        n_iter=10,
        certify="lipschitz",
    )
    result, _ = run_evaluation(config, tmp_path, progress=False)
    assert [r.eps_text for r in result.certified.radii] == ["0.5", "36/255", "72/255", "108/255"]
    assert [r.source for r in result.certified.radii] == ["run", "lipsim", "lipsim", "lipsim"]
    assert result.certified.parameters["embedding_lipschitz"] == 1.0
    assert result.checks["certified_not_broken"].passed is True
    assert result.checks["certified_le_robust_le_clean"].passed is True


def test_lipschitz_is_refused_in_one_line_for_a_model_without_a_bound(tmp_path):
    outcome = CliRunner().invoke(
        main, ["evaluate", "--model", "ssim", "--n-ex", "2", "--certify", "lipschitz", "--output-dir", str(tmp_path)]
    )
    assert outcome.exit_code != 0
    assert outcome.output.strip().splitlines() == [
        "Error: --certify lipschitz: ssim declares no Lipschitz bound on its embedding; use --certify smoothing"
    ]


def _outcome(position: int, label: int, robust: int, radius: float) -> SampleOutcome:
    extra = {"certified_prediction": label, "certified_radius": radius}
    return SampleOutcome(1.0, float(robust == label), True, label, label, robust, 0.5, position=position, extra=extra)


def test_the_checks_fail_when_a_certified_sample_is_broken():
    """A certificate that claims more than the attack leaves is a bug in one of them: the checks must say so."""
    outcomes = [_outcome(0, 1, 0, 2.0), _outcome(1, 0, 0, 2.0)]  # sample 0: certified at 1.0 yet broken
    certified = CertifiedScores("lipschitz", {}, 2, 0, [CertifiedRadius(1.0, "1.0", 1.0, "run", "l2 1.0")], clean=1.0, robust=0.5)
    checks = certificate_checks("lipschitz", certified, outcomes, attacked=True)
    assert checks["certified_not_broken"].passed is False and checks["certified_not_broken"].numbers["positions"] == [0]
    assert checks["certified_le_robust_le_clean"].passed is False
    honest = certificate_checks("lipschitz", certified, [_outcome(0, 1, 1, 2.0), _outcome(1, 0, 0, 0.5)], attacked=True)
    assert honest["certified_not_broken"].passed is True


def test_save_adversarial_writes_the_worst_cases_beside_the_result(tmp_path):
    outcome = CliRunner().invoke(
        main,
        ["evaluate", "--model", "pixel-l2", "--threat", "l2", "--eps", "0.5", "--n-ex", "8", "--n-iter", "5"]
        + ["--save-adversarial", "3", "--output-dir", str(tmp_path), "--quiet"],
    )
    assert outcome.exit_code == 0, outcome.output
    (path,) = (tmp_path / "demo").glob("*.json")
    result = read_result(path)
    folder = path.parent / result.adversarial_examples
    assert folder.parent == path.parent and folder.name == path.stem + ".adversarial"
    gallery = validate_gallery(json.loads((folder / EXAMPLES_FILE).read_text()))
    assert [e.rank for e in gallery.examples] == [1, 2, 3]
    changes = [e.margin_change for e in gallery.examples]
    assert changes == sorted(changes, reverse=True)
    outcomes = {o.position: o for o in read_outcomes(path)}
    for example in gallery.examples:
        assert set(example.images) == set(IMAGE_KINDS)
        for name in example.images.values():
            assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert example.choice_before == outcomes[example.position].clean_prediction
        assert example.humans_choice == outcomes[example.position].label
        assert example.perturbation_norm <= 0.5 + 1e-4


def test_the_schema_keeps_the_gallery_inside_the_result_folder(tmp_path):
    result, _ = run_evaluation(EvaluationConfig(model="pixel-l2", n_ex=2, n_iter=2), tmp_path, progress=False)
    for hostile in ("../elsewhere", "/etc", ".."):
        with pytest.raises(ValueError, match="adversarial_examples"):
            EvaluationResult.from_dict({**result.to_dict(), "adversarial_examples": hostile})
    with pytest.raises(SchemaError, match="images"):
        validate_gallery({"model": "m", "dataset": "d", "threat": "l2 1", "examples": [_example(images={"reference": "../x.png"})]})


def _example(**changes):
    example = dict(rank=1, position=0, judge=1.0, humans_choice=1, sims_before=[0.0, 1.0], sims_after=[1.0, 0.0])
    example.update(sims_after_png=[1.0, 0.0], choice_before=1, choice_after=0, choice_after_png=0, margin_change=2.0)
    example.update(perturbation_norm=0.5, amplification=3.0, images={"reference": "001_reference.png"})
    return {**example, **changes}


def test_the_smoothed_check_flags_only_a_confident_flip_not_a_noisy_disagreement():
    """480 of 1,000 votes for the certified class is a minority, yet consistent with p > 1/2 at alpha 0.001: not a violation."""

    def attacked(position: int, votes: int) -> SampleOutcome:
        outcome = _outcome(position, 1, 1, 1.0)
        extra = {"smoothed_attack_votes": str(votes), "smoothed_attack_draws": "1000", "smoothed_attack_l2": "1.0"}
        return replace(outcome, extra={**outcome.extra, **extra})  # as read back from the CSV: text

    certified = CertifiedScores(
        "smoothing", {"alpha": 0.001}, 3, 0, [CertifiedRadius(0.5, "0.5", 1.0, "run", "l2 0.5")], clean=1.0, robust=1.0
    )
    checks = certificate_checks("smoothing", certified, [attacked(0, 480), attacked(1, 700), attacked(2, 400)], attacked=True)
    check = checks["smoothed_certified_not_broken"]
    assert check.passed is False and check.numbers["positions"] == [2] and check.numbers["broken_at_run"] == 1
    quiet = certificate_checks("smoothing", certified, [attacked(0, 480), attacked(1, 700)], attacked=True)
    assert quiet["smoothed_certified_not_broken"].passed is True
    assert "smoothed_certified_not_broken" not in certificate_checks("smoothing", certified, [_outcome(0, 1, 1, 1.0)], attacked=True)
