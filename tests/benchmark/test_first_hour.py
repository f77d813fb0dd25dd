"""What a new user meets in the first hour (issue 24): names from the current folder, the paper's rows in `bench
results`, one number format, one-line errors before any progress bar, summaries that say what ran."""

from __future__ import annotations

import sys

import pytest
import torch
from click.testing import CliRunner

from benchmark.cli.bench import main
from model_zoo import UnknownModelError, create_model

ACME = """
from model_zoo import PairwiseModel

class MeanAbsolute(PairwiseModel):
    sim_range = (0.0, 1.0)

    def pairwise_sim(self, x, y):
        return 1 - (x - y).abs().flatten(1).mean(dim=1)

def mean_absolute(pretrained: bool = True) -> MeanAbsolute:
    return MeanAbsolute()
"""


def test_a_module_factory_name_resolves_from_the_current_folder_as_python_m_does(tmp_path, monkeypatch):
    (tmp_path / "acme_first_hour.py").write_text(ACME)
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    model = create_model("acme_first_hour:mean_absolute")
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(model.sim(x, x), torch.ones(2))
    assert sys.path == path_before  # the current folder was on sys.path for that one import only
    with pytest.raises(UnknownModelError, match=f"looked in the current folder {tmp_path}"):
        create_model("acme_not_here:mean_absolute")


def test_results_reported_adds_the_papers_rows_and_markdown_shows_percent(tmp_path):
    runner = CliRunner()
    args = ["results", "--results", str(tmp_path / "none"), "--reported", "--model", "r-clip-f-convnext", "--threat", "linf"]
    csv_out = runner.invoke(main, [*args, "--format", "csv"])
    assert csv_out.exit_code == 0, csv_out.output
    header, first, *_ = csv_out.output.splitlines()
    row = dict(zip(header.split(","), first.split(",")))
    assert (row["status"], row["source"], row["clean"], row["robust"]) == ("reported", "paper:Table I", "0.906", "0.743")
    markdown = runner.invoke(main, args)
    assert "clean %" in markdown.output and "90.60" in markdown.output and "0.9060" not in markdown.output
    json_out = runner.invoke(main, [*args, "--format", "json", "--status", "reported"])
    assert json_out.exit_code == 0 and '"clean":0.906' in json_out.output.replace(" ", ""), json_out.output
    bad = runner.invoke(main, [*args, "--status", "ranked"])
    assert bad.exit_code == 2 and "measured" in bad.output and "reported" in bad.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_perf_on_a_missing_gpu_is_one_line_as_evaluate():
    out = CliRunner().invoke(main, ["perf", "--model", "pixel-l2", "--device", "cuda", "--n-iter", "1"])
    assert out.exit_code == 1 and out.output.strip() == "Error: --device cuda asked for, but CUDA is not available here; use --device cpu"


def test_a_reference_attack_without_autoattack_fails_before_the_progress_bar(monkeypatch, isolated_cache):
    # as if the [reference] extra were not installed; the submodules too, which earlier tests may have imported
    for module in ("pyautoattack", "pyautoattack.autopgd_base", "pyautoattack.square"):
        monkeypatch.setitem(sys.modules, module, None)
    out = CliRunner().invoke(main, ["evaluate", "--model", "pixel-l2", "--attack", "apgd-ce-reference", "--n-ex", "2"])
    assert out.exit_code == 1 and "pip install 'perceptbench[reference]'" in out.output
    assert len(out.output.strip().splitlines()) == 1 and "%" not in out.output, out.output


def test_a_clean_only_summary_names_no_threat(tmp_path, isolated_cache):
    out = CliRunner().invoke(
        main, ["evaluate", "--model", "pixel-l2", "--attack", "none", "--n-ex", "4", "--output-dir", str(tmp_path), "--quiet"]
    )
    assert out.exit_code == 0, out.output
    assert "no attack: clean" in out.output and "(clean only)" in out.output and "4/255" not in out.output


def test_invert_features_and_text_write_to_their_own_folders():
    from benchmark.cli.invert import invert

    defaults = {name: {p.name: p.default for p in invert.commands[name].params}["output_dir"] for name in ("features", "text")}
    assert defaults == {"features": "inversions/features", "text": "inversions/text"}


def test_verify_submission_says_smoke_for_a_smoke_submission(tmp_path, monkeypatch):
    """The site labels a smoke submission so; the command's own verdict line must too (not a bare 'verified (full)')."""
    from types import SimpleNamespace

    import benchmark.submissions.schema
    import benchmark.submissions.submission
    import benchmark.submissions.verification

    record = SimpleNamespace(label="verified (full)", status="verified", reasons=())
    monkeypatch.setattr(benchmark.submissions.submission, "verify_submission", lambda folder, **_: record)
    monkeypatch.setattr(benchmark.submissions.verification, "describe_signing_key", lambda: "test key")
    for smoke, expected in ((True, "verified (full) [smoke: demo only]"), (False, "verified (full)")):
        monkeypatch.setattr(benchmark.submissions.schema, "read_submission", lambda folder, smoke=smoke: SimpleNamespace(smoke=smoke))
        out = CliRunner().invoke(main, ["verify-submission", str(tmp_path)])
        assert out.exit_code == 0 and out.output.splitlines()[0] == expected, out.output
