"""Every bad input gets a one-line error that names the bad value, a non-zero exit, and loses nothing."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from attacks.threat import ThreatModel
from benchmark.cli.bench import main
from benchmark.datasets import DatasetError, load_dataset
from benchmark.datasets.demo import write_demo
from benchmark.results import read_samples
from benchmark.runtime.checkpoint import PARTIAL_SUFFIX
from leaderboard.collect import collect_results


def _evaluate(args: list[str], output_dir, env: dict | None = None):
    return CliRunner().invoke(main, ["evaluate", "--quiet", "--output-dir", str(output_dir), *args], env=env)


def _assert_one_line_error(out, *fragments: str) -> None:
    assert out.exit_code != 0, out.output
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), out.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--model", "ssmi"], ["unknown model 'ssmi'", "did you mean 'ssim'"]),
        (["--model", "ssim", "--dataset", "nights-tset"], ["unknown dataset 'nights-tset'", "bench datasets"]),
        (["--model", "ssim", "--threat", "l3"], ["unknown threat model 'l3'", "linf, l2"]),
        (["--model", "ssim", "--eps", "-4/255"], ["eps must be >= 0", "-4/255"]),
        (["--model", "ssim", "--eps", "0"], ["eps 0 leaves nothing to attack", "4/255"]),
        (["--model", "ssim", "--eps", "8"], ["Linf eps 8 exceeds 1", "did you mean 8/255"]),
        (["--model", "ssim", "--eps", "four"], ["cannot read eps 'four'"]),
        (["--model", "ssim", "--n-iter", "0"], ["--n-iter must be >= 1", "got 0"]),
        (["--model", "ssim", "--batch-size", "0"], ["--batch-size must be a whole number >= 1 or 'auto'", "got '0'"]),
        (["--model", "ssim", "--batch-size", "lots"], ["--batch-size must be a whole number >= 1 or 'auto'", "got 'lots'"]),
        (["--model", "ssim", "--precision", "fp16"], ["fp16 needs a GPU", "bf16 or fp32"]),
        (["--model", "ssim", "--device", "cuda"], ["CUDA is not available", "--device cpu"]),
    ],
)
def test_bad_arguments_are_refused_before_any_work(args, fragments, tmp_path):
    _assert_one_line_error(_evaluate(args, tmp_path / "results"), *fragments)
    assert not (tmp_path / "results").exists()


def test_dataset_without_a_data_root_says_how_to_give_one(tmp_path):
    out = _evaluate(["--model", "ssim", "--dataset", "bapps"], tmp_path / "results", env={"PERCEPTBENCH_DATA": ""})
    _assert_one_line_error(out, "dataset 'bapps' needs a data root", "--data-root")
    out = _evaluate(["--model", "ssim", "--dataset", "bapps", "--data-root", str(tmp_path / "nowhere")], tmp_path / "results")
    _assert_one_line_error(out, "not found at", str(tmp_path / "nowhere"))
    assert not (tmp_path / "results").exists()


def test_corrupt_image_names_the_file_and_keeps_finished_batches(tmp_path):
    split = tmp_path / "data" / "bapps" / "2afc" / "val" / "traditional"
    write_demo(split, n_triplets=4)
    broken = split / "p1" / "000002.png"
    good_bytes = broken.read_bytes()
    broken.write_bytes(good_bytes[: len(good_bytes) // 3])  # a truncated download
    args = [
        "--model",
        "pixel-l2",
        "--threat",
        "l2",
        "--dataset",
        "bapps",
        "--split",
        "traditional",
        "--data-root",
        str(tmp_path / "data"),
        "--batch-size",
        "1",
        "--n-iter",
        "2",
    ]
    out = _evaluate(args, tmp_path / "results")
    _assert_one_line_error(out, "cannot read image", str(broken))
    partial = list((tmp_path / "results").rglob(f"*{PARTIAL_SUFFIX}"))
    assert len(partial) == 1 and partial[0].read_text().count("\n") == 2, "batches before the bad image are kept"

    broken.write_bytes(good_bytes)
    out = _evaluate(args, tmp_path / "results")
    assert out.exit_code == 0, out.output
    assert "resumed: 2 of 4 samples" in out.output
    result_file = next((tmp_path / "results").rglob("*.json"))
    assert [int(s["position"]) for s in read_samples(result_file)] == [0, 1, 2, 3]


def test_malformed_result_files_are_skipped_with_a_warning(tmp_path):
    results = tmp_path / "results"
    assert _evaluate(["--model", "ssim", "--n-ex", "2", "--n-iter", "1"], results).exit_code == 0
    good = next(results.rglob("*.json"))
    (results / "torn.json").write_text(good.read_text()[:100])  # a half-written copy
    (results / "foreign.json").write_text('{"hello": 1}')
    with pytest.warns(UserWarning) as caught:
        collected = collect_results(results)
    assert [path for path, _ in collected] == [good]
    messages = " ".join(str(w.message) for w in caught)
    assert "torn.json" in messages and "foreign.json" in messages


@pytest.mark.parametrize(
    "args,message",
    [
        (["--eps", "nan"], "cannot read eps 'nan'"),
        (["--eps", "inf"], "cannot read eps 'inf'"),
        (["--eps", "1/0"], "cannot read eps '1/0'"),
        (["--model", ""], "--model is empty"),
        (["--model", " , "], "--model is empty"),
        (["--device", "tpu"], "unknown device 'tpu'; use cpu, cuda, cuda:N or mps"),
        (["--model-kwarg", "foo=1"], "model 'pixel-l2' has no option 'foo' \\(--model-kwarg accepts: none\\)"),
    ],
)
def test_new_user_mistakes_get_one_line_errors_and_no_result(tmp_path, args, message):
    base = [
        "evaluate",
        "--model",
        "pixel-l2",
        "--dataset",
        "demo",
        "--n-ex",
        "2",
        "--n-iter",
        "1",
        "--quiet",
        "--output-dir",
        str(tmp_path),
    ]
    out = CliRunner().invoke(main, base + args)
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert re.search(message, out.output), out.output
    assert not any(tmp_path.rglob("*.json"))


def test_fractional_numerators_are_radii():
    assert ThreatModel.from_text("linf", "0.5/255").eps == pytest.approx(0.5 / 255)
    assert ThreatModel.from_text("l2", "3/2").eps == pytest.approx(1.5)


def test_dataset_files_cannot_name_paths_outside_the_dataset_folder(tmp_path):
    rows = [dict(left_vote=1, right_vote=5, votes=6, split="test", is_imagenet="True", ref_path="../../../../etc/passwd")]
    write_nights_rows_raw(tmp_path, rows)
    with pytest.raises(DatasetError, match=r"data\.csv line 2 names '\.\./\.\./\.\./\.\./etc/passwd', which is outside the dataset folder"):
        load_dataset("nights", tmp_path)
    rows[0]["ref_path"] = "/etc/passwd"
    write_nights_rows_raw(tmp_path, rows)
    with pytest.raises(DatasetError, match="outside the dataset folder"):
        load_dataset("nights", tmp_path)


def write_nights_rows_raw(root, rows):
    """data.csv alone, with the paths exactly as given (the fixture writer would create the files)."""
    import csv

    folder = root / "nights"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["id", "left_vote", "right_vote", "votes", "ref_path", "left_path", "right_path", "split", "is_imagenet"]
        )
        writer.writeheader()
        for index, row in enumerate(rows):
            writer.writerow({"id": index, "left_path": "distort/a_0.png", "right_path": "distort/a_1.png", **row})


@pytest.mark.parametrize(
    "command",
    [
        ["sweep", "--model", "pixel-l2", "--eps", "0,1/255"],
        ["reproduce", "table1", "--dry-run"],
        ["submit", "--model", "pixel-l2", "--out", "x", "--smoke"],
        ["perf", "--model", "pixel-l2"],
        ["invert", "features", "--model", "clip-convnext", "--image", "x.png"],
    ],
)
def test_every_evaluation_command_takes_batch_size_auto_and_refuses_nonsense(command, tmp_path):
    refused = CliRunner().invoke(main, command + ["--batch-size", "none"])
    _assert_one_line_error(refused, "--batch-size must be a whole number >= 1 or 'auto'", "got 'none'")
    from benchmark.cli.common import parse_batch_size

    assert parse_batch_size("auto") == "auto" and parse_batch_size("8") == 8 and parse_batch_size(None) is None


def test_batch_size_auto_is_a_number_before_any_batch_is_cut(tmp_path):
    """The runner resolves 'auto' once (on CPU a fixed modest batch) and records the number it used."""
    from benchmark.runner import EvaluationConfig, run_evaluation
    from benchmark.runtime.acceleration import CPU_AUTO_BATCH_SIZE, resolve_batch_size
    from model_zoo import create_model

    result, _ = run_evaluation(EvaluationConfig(model="pixel-l2", n_ex=4, attack="none", batch_size="auto"), tmp_path, progress=False)
    assert result.config["batch_size"] == CPU_AUTO_BATCH_SIZE and result.scores.n == 4
    model = create_model("pixel-l2")
    assert resolve_batch_size(8, model, 64, "cpu") == 8 and resolve_batch_size("auto", model, 64, "cpu") == CPU_AUTO_BATCH_SIZE
    with pytest.raises(ValueError, match="whole number >= 1 or 'auto'"):
        resolve_batch_size(0, model, 64, "cpu")
