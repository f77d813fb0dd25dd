import json
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from benchmark.cli.bench import main
from benchmark.results import EvaluationResult, read_result, read_samples
from benchmark.runner import EvaluationConfig, run_evaluation


def test_result_json_round_trips(tmp_path):
    result, path = run_evaluation(EvaluationConfig(model="pixel-l2", threat="l2", n_ex=8, n_iter=5, batch_size=4), tmp_path, progress=False)
    again = read_result(path)
    assert again == result
    assert EvaluationResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    data = json.loads(path.read_text())
    assert data["schema_version"] == 2 and data["weights"] == "none"
    assert set(data["metric"]) == {"has_embedding", "higher_is_better", "is_differentiable", "sim_range", "is_randomised"}
    assert result.metric is not None and result.metric.to_dict() == data["metric"]
    assert data["config"]["n_iter"] == 5 and data["threat"] == {"norm": "l2", "eps": 3.0, "eps_text": "3.0"}
    assert set(data["environment"]["versions"]) >= {"torch", "perceptbench", "python"}
    samples = read_samples(path)
    assert len(samples) == 8
    assert sum(float(s["robust_score"]) for s in samples) / 8 == pytest.approx(result.scores.robust)
    assert result.scores.robust <= result.scores.clean


@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(threat="linf", eps="2"), "did you mean 2/255"),
        (dict(threat="linf", eps="-1/255"), "eps must be >= 0"),
        (dict(threat="linf", eps="0"), "eps 0 leaves nothing"),
        (dict(threat="l3"), "unknown threat model"),
        (dict(n_iter=0), "--n-iter must be >= 1"),
        (dict(model="ssmi"), "did you mean 'ssim'"),
        (dict(dataset="demoo"), "did you mean 'demo'"),
    ],
)
def test_bad_configurations_are_refused_before_work(bad, message, tmp_path):
    config = EvaluationConfig(**{"model": "ssim", **bad})
    with pytest.raises(Exception, match=message):
        run_evaluation(config, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


class _TableParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self._in_cell = [], False

    def handle_starttag(self, tag, attrs):
        self._in_cell = tag in ("td", "th")
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag):
        self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def test_cli_evaluate_then_leaderboard_ranks_real_and_marks_random(tmp_path):
    runner = CliRunner()
    results = tmp_path / "results"
    out = runner.invoke(
        main,
        [
            "evaluate",
            "--model",
            "ssim,pixel-l2",
            "--threat",
            "linf,l2",
            "--n-ex",
            "6",
            "--n-iter",
            "5",
            "--output-dir",
            str(results),
            "--quiet",
        ],
    )
    assert out.exit_code == 0, out.output
    assert out.output.count("clean") == 4 and "robust" in out.output
    out = runner.invoke(
        main,
        [
            "evaluate",
            "--model",
            "clip-convnext",
            "--random-weights",
            "--model-kwarg",
            "reduced=true",
            "--n-ex",
            "2",
            "--n-iter",
            "2",
            "--output-dir",
            str(results),
            "--quiet",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "random weights" in out.output
    (results / "notes.json").write_text("{not json")
    out = runner.invoke(main, ["leaderboard", "--results", str(results), "--out", str(tmp_path / "site")])
    assert out.exit_code == 0, out.output
    markdown = (tmp_path / "site" / "LEADERBOARD.md").read_text()
    assert "| ssim" in markdown and "| pixel-l2" in markdown and "linf 4/255" in markdown and "l2 3.0" in markdown
    ranked_part, _, unranked_part = markdown.partition("Random-weight smoke runs")
    assert "clip-convnext" not in ranked_part and "clip-convnext" in unranked_part
    parser = _TableParser()
    parser.feed((tmp_path / "site" / "index.html").read_text())
    assert "ssim" in parser.cells and "pixel-l2" in parser.cells


def test_cli_errors_are_one_line_and_nonzero(tmp_path):
    out = CliRunner().invoke(main, ["evaluate", "--model", "ssmi", "--output-dir", str(tmp_path)])
    assert out.exit_code == 1
    assert "Error: unknown model 'ssmi'; did you mean 'ssim'?" in out.output
    assert "Traceback" not in out.output


def test_cli_lists_models_and_datasets():
    runner = CliRunner()
    models = runner.invoke(main, ["models"])
    assert models.exit_code == 0 and "clip-convnext" in models.output and "ssim" in models.output
    datasets = runner.invoke(main, ["datasets"])
    assert datasets.exit_code == 0 and "demo" in datasets.output and "embedded: generated on first use" in datasets.output
    imagefolder = next(line for line in datasets.output.splitlines() if line.startswith("imagefolder"))
    assert "your own folder: --dataset-option path=DIR" in imagefolder and "built in" not in datasets.output


def test_version_and_python_dash_m():
    import subprocess
    import sys

    from benchmark import __version__

    out = CliRunner().invoke(main, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"perceptbench, version {__version__}"
    completed = subprocess.run([sys.executable, "-m", "benchmark", "--version"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0 and __version__ in completed.stdout
