"""README.md runs as written: every shell command and Python snippet in it runs here at tiny sizes, or is listed below
with why it cannot (weights, data, a GPU, a cluster), so a README line that rots fails the suite (issue 24).

Commands run in README order in one folder (the quick start's results feed `bench compare` and the leaderboard), in
process through click. "Tiny sizes" means options appended to the README's own (click keeps an option's last value).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```", flags=re.S | re.M)

NEEDS_DATA = "needs a downloaded dataset (~/data, /data)"
NEEDS_GPU = "needs a GPU"
NEEDS_WEIGHTS = "needs pretrained weights (downloaded; no network in the tests)"
# Prefix of a README command -> options appended to run it at a tiny size (a list), or why it is not run here (a str).
COMMANDS: dict[str, list[str] | str] = {
    "pip install": "installs packages",
    "python -m pytest": "the test suite itself",
    "bench evaluate --model ssim,pixel-l2 --dataset demo --threat linf,l2": ["--n-ex", "4", "--quiet"],
    "bench leaderboard --results results --output-dir site": [],
    "bench models": [],
    "bench datasets": [],
    "bench evaluate --model clip-convnext --dataset bapps": NEEDS_DATA,
    "bench evaluate --model clip-convnext --random-weights": ["--n-ex", "2", "--n-iter", "2", "--quiet"],
    "bench evaluate --model ssim --attack square": ["--n-ex", "4", "--n-iter", "20", "--quiet"],
    "bench evaluate --model ssim --attack apgd-ce-reference": ["--n-ex", "4", "--n-iter", "2", "--quiet"],
    "bench evaluate --model ssim --checks": ["--n-ex", "4", "--n-iter", "2", "--quiet"],
    "bench sweep --model ssim --threat linf --eps": ["--n-ex", "2", "--n-iter", "2", "--quiet"],
    "bench sweep --model ssim --n-iter": ["--n-ex", "2", "--quiet"],
    "bench compare results/demo/": [],
    "bench evaluate --model ssim,pixel-l2 --dataset demo --threat linf --attack standard": [
        *("--n-ex", "4", "--n-iter", "2", "--square-queries", "10", "--quiet")
    ],
    "bench submit --model acme-mean-absolute --card card.json --output-dir submissions/acme-mean-absolute --data-root": NEEDS_DATA,
    "bench submit --model acme-mean-absolute --card card.json --output-dir submissions/acme-mean-absolute-smoke --smoke": (
        "needs acme_metrics installed as a package with an entry point and a card.json; tests/benchmark/test_submission.py "
        "runs submit and verify-submission on an installed test distribution"
    ),
    "bench invert features": NEEDS_WEIGHTS + " and the images a.png, b.png",
    "bench invert text": NEEDS_WEIGHTS,
    "bench evaluate --model r-clip-t-convnext --dataset imagenet": NEEDS_DATA,
    "bench reproduce table4 --data-root": NEEDS_DATA,
    "bench evaluate --model clip-convnext --dataset bapps --device cuda": NEEDS_GPU,
    "torchrun": "needs several GPUs and torchrun",
    "bench perf --model clip-convnext --device cuda": NEEDS_GPU,
    "python benchmarks/gpu_check.py --out": NEEDS_GPU,
    "python benchmarks/gpu_check.py --tiny": "tests/benchmarks/test_gpu_check.py runs it",
    "bench campaign run": "needs a Slurm cluster and the data",
    "bench campaign status": "needs the campaign above",
    "bench leaderboard --results campaigns/t13/results": "needs the campaign above",
    "bench finetune": NEEDS_DATA + " and " + NEEDS_GPU + " (tests/finetune runs every recipe at a tiny size)",
    "bench evaluate --model runs/fare-convnext-lora": "needs the fine-tuned folder above and NIGHTS",
    "bench data download": "downloads datasets (no network in the tests)",
    "bench data verify nights": NEEDS_DATA,
    "bench reproduce table1 --dry-run": [],
    "bench reproduce table3": NEEDS_DATA + " and " + NEEDS_GPU,
}


# The quick start runs on 4 samples here, and `n_ex` is part of a result's file name (`..._seed0__n4.json`).
TINY_FILE_NAMES = {"bench compare": (".json", "__n4.json")}


def readme_blocks() -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return FENCE.findall(README.read_text(encoding="utf-8"))


def readme_commands() -> list[str]:
    """Every shell command of README's bash blocks: comments dropped, `a && b` split."""
    commands = []
    for language, body in readme_blocks():
        if language != "bash":
            continue
        for line in body.splitlines():
            command = line.split("  #")[0].strip()
            if command and not command.startswith("#"):
                commands += [part.strip() for part in command.split(" && ")]
    return commands


def classify(command: str) -> list[str] | str:
    """The longest matching prefix's entry: the most specific line wins."""
    matches = [prefix for prefix in COMMANDS if command.startswith(prefix)]
    assert matches, f"README command not classified in tests/test_readme.py (run it tiny or say why not): {command}"
    return COMMANDS[max(matches, key=len)]


@pytest.fixture(scope="module")
def readme_folder(tmp_path_factory, isolated_cache):
    """One folder for the whole README, holding acme_metrics.py as the README writes it."""
    folder = tmp_path_factory.mktemp("readme")
    acme = next(body for language, body in readme_blocks() if language == "python" and body.startswith("# acme_metrics.py"))
    (folder / "acme_metrics.py").write_text(acme, encoding="utf-8")
    return folder


def test_every_readme_command_is_run_or_says_why_not():
    commands = readme_commands()
    assert len(commands) > 30
    for command in commands:
        classify(command)
    unused = [prefix for prefix in COMMANDS if not any(command.startswith(prefix) for command in commands)]
    assert not unused, f"entries no README command uses any more: {unused}"


def test_every_model_the_readme_names_exists():
    """`--model acme-l1` once named a model nothing registers: every name is registered, the README's own or a path."""
    from model_zoo import list_models

    known = set(list_models()) | {"acme-mean-absolute"}  # the README's own example, registered by its entry point
    text = README.read_text(encoding="utf-8")
    for names in re.findall(r"--model '?([\w.,:/*-]+)", text):
        for name in names.split(","):
            if ":" in name or "/" in name or "*" in name:
                continue
            assert name in known, f"README names --model {name}, which is not registered"


RUN = [(index, command) for index, command in enumerate(readme_commands()) if isinstance(classify(command), list)]


@pytest.mark.parametrize("index, command", RUN, ids=[command[:60] for _, command in RUN])
def test_readme_command_runs(index, command, readme_folder, monkeypatch):
    from benchmark.cli.bench import main

    monkeypatch.chdir(readme_folder)
    words = shlex.split(command)
    assert words[0] == "bench", command
    for prefix, (old, new) in TINY_FILE_NAMES.items():
        if command.startswith(prefix):
            words = [word.replace(old, new) if word.endswith(old) else word for word in words]
    out = CliRunner().invoke(main, [*words[1:], *classify(command)])
    assert out.exit_code == 0, f"{command}\n{out.output}"


def test_readme_module_factory_name_runs_from_its_folder(readme_folder, monkeypatch):
    """ "--model acme_metrics:mean_absolute" with acme_metrics.py in the current folder, as the README says."""
    from benchmark.cli.bench import main

    monkeypatch.chdir(readme_folder)
    args = ["evaluate", "--model", "acme_metrics:mean_absolute", "--n-ex", "4", "--n-iter", "2", "--quiet"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0 and "acme_metrics:mean_absolute on demo (4 samples)" in out.output, out.output


SNIPPETS = [body for language, body in readme_blocks() if language == "python" and not body.startswith("# acme_metrics.py")]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[snippet.splitlines()[0][:50] for snippet in SNIPPETS])
def test_readme_python_snippet_runs(snippet, readme_folder, monkeypatch):
    monkeypatch.chdir(readme_folder)
    exec(compile(snippet, "README.md", "exec"), {})
