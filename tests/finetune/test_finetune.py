"""`bench finetune` on tiny random-weight towers and fixture data in the real on-disk formats."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from paper_data import write_imagenet, write_nights
from safetensors.torch import load_file
from torch.utils.data import default_collate

from attacks.pgd import uniform_linf_start
from benchmark.runtime.distributed import ProcessGroup
from finetune.base import load_base_tower
from finetune.config import default_config
from finetune.recipes import build_recipe
from finetune.trainer import LOG_FILE, STATE_FILE, train
from model_zoo import create_model
from model_zoo.download import sha256_of
from model_zoo.trained_folder import CARD_FILE, read_card

ROOT = Path(__file__).resolve().parents[2]
TINY = {"random_weights": True, "model_kwargs": {"reduced": True}, "quiet": True}
SINGLE = ProcessGroup()


def _nights_rows(n_train: int = 8, n_val: int = 4, n_test: int = 2) -> list[dict]:
    splits = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    return [
        dict(left_vote=6 * (i % 2), right_vote=6 * (1 - i % 2), votes=6, split=split, is_imagenet=False) for i, split in enumerate(splits)
    ]


def _relabel(nights: Path, labels: dict[str, int]) -> None:
    """Rewrite data.csv so that triplet `id` has the given label (1: humans chose the right image)."""
    with (nights / "data.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["id"] in labels:
            row["left_vote"], row["right_vote"] = ("0", "6") if labels[row["id"]] else ("6", "0")
    with (nights / "data.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _recipe(config):
    base = load_base_tower(config.model, pretrained=False, model_kwargs=config.model_kwargs, seed=config.seed)
    return build_recipe(config, base, torch.device("cpu"), contextlib.nullcontext)


@pytest.mark.parametrize(
    "method,model,overrides",
    [
        ("mlp", "clip-convnext", {"lr": 1e-2}),
        # A random ConvNeXt scales its MLP blocks by timm's layer-scale init (1e-6), so LoRA on them cannot move it;
        # the ViT's qkv adapters can (ConvNeXt LoRA is exercised by the resume test).
        ("lora", "clip-vit-b16", {"lr": 1e-2, "lora_alpha": 16.0}),
    ],
)
def test_nights_training_improves_the_train_2afc_score_and_reloads_through_the_zoo(tmp_path, method, model, overrides):
    nights = write_nights(tmp_path / "data", _nights_rows())
    config = default_config(
        method, model, str(tmp_path / "out"), data_root=str(tmp_path / "data"), batch_size=4, epochs=3, **overrides, **TINY
    )
    # Label every training triplet against the start model's choice, so it starts at 0 and can only learn.
    recipe = _recipe(config)
    with torch.no_grad():
        recipe.model.eval()
        choices = {}
        for position in range(len(recipe.train_set)):
            item = recipe.train_set[position]
            dist_0, dist_1 = recipe._distances({k: item[k][None] for k in ("reference", "candidate_0", "candidate_1")})
            choices[recipe.train_set.dataset.triplets[position].sample_id] = int(dist_1 < dist_0)
    _relabel(nights, {sample_id: 1 - choice for sample_id, choice in choices.items()})
    before = _recipe(config).score(_recipe(config).train_set, SINGLE)["score"]
    assert before == 0.0

    run = train(config)
    trained = build_recipe(
        config, load_base_tower(model, False, {"reduced": True}, config.seed), torch.device("cpu"), contextlib.nullcontext
    )
    trained.model = run.model
    after = trained.score(trained.train_set, SINGLE)["score"]
    assert after > before, f"{method}: train 2AFC {before} -> {after}"

    card = read_card(run.folder)
    assert card.method == method and card.finetuning == ("NIGHTS-MLP" if method == "mlp" else "NIGHTS-LoRA")
    assert card.sources["margin"].startswith("DreamSim") and card.sources["lr"] == "set by the user"
    assert card.training["selected_epoch"] in (0, 1, 2) and len(card.training["validation"]) == 3
    assert all(sha256_of(run.folder / name) == digest for name, digest in card.sha256.items())
    expected_file = "mlp-head.pt" if method == "mlp" else "lora/adapter_model.safetensors"
    assert expected_file in card.sha256

    reloaded = create_model(str(run.folder))
    assert reloaded.weights_kind == "random" and reloaded.card.finetuning == card.finetuning
    x, y = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(reloaded.sim(x, y), run.model.sim(x, y), atol=1e-5)


def _attacked_loss(recipe, images: torch.Tensor, labels: torch.Tensor) -> float:
    batch = {"image": images, "label": labels}
    objective = recipe.objective(batch)
    start = uniform_linf_start(images.shape, recipe.config.eps_value, torch.Generator().manual_seed(5))
    x_adv = recipe.adversarial_images(batch, objective, start)
    with torch.no_grad():
        return float(objective(x_adv, torch.arange(len(images))).loss.mean())


@pytest.mark.parametrize(
    "method,model,overrides",
    [
        # FARE starts at its optimum on clean images, so Adam's first steps must be small: the recipe's lr (1e-5).
        ("fare", "clip-convnext", {}),
        ("tecoa", "clip-vit-b32", {"lr": 1e-4}),
    ],
)
def test_adversarial_fine_tuning_lowers_the_loss_under_attack(tmp_path, method, model, overrides):
    write_imagenet(tmp_path / "imagenet", {"n01440764": 3, "n01443537": 3, "n01484850": 2})
    config = default_config(
        method,
        model,
        str(tmp_path / "out"),
        data_root=str(tmp_path / "imagenet"),
        batch_size=4,
        steps=6,
        warmup_steps=0,
        pgd_steps=3,
        **overrides,
        **TINY,
    )
    start = _recipe(config)
    images = torch.stack([start.train_set[i]["image"] for i in range(len(start.train_set))])
    labels = torch.stack([start.train_set[i]["label"] for i in range(len(start.train_set))])
    before = _attacked_loss(start, images, labels)

    run = train(config)
    start.model = run.model  # the same objective (FARE: drift from the start model's clean embedding), the trained tower
    after = _attacked_loss(start, images, labels)
    assert after < before, f"{method}: loss under attack {before} -> {after}"
    card = read_card(run.folder)
    assert card.robust_training == ("FARE" if method == "fare" else "TeCoA") and card.robust_eps == "4/255"
    assert card.hyperparameters["pgd_steps"] == 3 and card.sources["batch_size"] == "set by the user"
    assert card.sources["weight_decay"].startswith("RobustVLM README") and card.sources["eps"].startswith("RobustVLM README")
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(create_model(str(run.folder)).embed(x), run.model.embed(x), atol=1e-5)


def test_a_finished_run_is_not_trained_again_and_other_settings_are_refused(tmp_path):
    write_imagenet(tmp_path / "imagenet", {"n01440764": 2, "n01443537": 2})
    config = default_config(
        "fare", "clip-convnext", str(tmp_path / "out"), data_root=str(tmp_path / "imagenet"), batch_size=2, steps=1, pgd_steps=1, **TINY
    )
    first = train(config)
    again = train(config)
    assert again.already_done and not first.already_done
    # A short name for the folder, as a `perceptbench.models` entry-point module would declare it.
    from model_zoo.trained_folder import register_trained_folder

    register_trained_folder("acme-fare-tiny", tmp_path / "out")
    named = create_model("acme-fare-tiny")
    assert named.card.robust_training == "FARE" and named.weights_kind == "random"
    from model_zoo.text_tower import has_text_tower

    assert has_text_tower("acme-fare-tiny") and has_text_tower(str(tmp_path / "out")), "FARE keeps the base's text space"
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(named.embed(x), create_model(str(tmp_path / "out")).embed(x))
    with pytest.raises(ValueError, match="other settings"):
        train(
            default_config(
                "fare",
                "clip-convnext",
                str(tmp_path / "out"),
                data_root=str(tmp_path / "imagenet"),
                batch_size=2,
                steps=2,
                pgd_steps=1,
                **TINY,
            )
        )


@pytest.mark.parametrize("method", ["lora", "tecoa"])
def test_the_bf16_autocast_path_runs(tmp_path, method):
    """`--precision bf16` is for GPUs; the same autocast on the CPU checks the losses handle bf16 activations."""
    write_nights(tmp_path / "data", _nights_rows(n_train=2, n_val=1, n_test=0))
    write_imagenet(tmp_path / "imagenet", {"n01440764": 2})
    root = tmp_path / ("data" if method == "lora" else "imagenet")
    config = default_config(method, "clip-vit-b16", str(tmp_path / "out"), data_root=str(root), batch_size=2, pgd_steps=1, **TINY)
    base = load_base_tower(config.model, False, config.model_kwargs, config.seed)
    recipe = build_recipe(config, base, torch.device("cpu"), lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    batch = {k: v for k, v in default_collate([recipe.train_set[0], recipe.train_set[1]]).items() if torch.is_tensor(v)}
    loss, stats = recipe.batch_loss(batch, [0, 1], 2, torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in recipe.trainable_parameters().values())


def test_bad_settings_are_one_line_errors(tmp_path):
    from benchmark.datasets.images import DatasetError

    with pytest.raises(DatasetError, match="no 'train' folder"):  # before any weights are downloaded
        train(default_config("fare", "clip-convnext", str(tmp_path / "out"), data_root=str(tmp_path)))
    with pytest.raises(DatasetError, match="no NIGHTS under"):
        train(default_config("lora", "clip-convnext", str(tmp_path / "out"), data_root=str(tmp_path)))
    with pytest.raises(ValueError, match="bf16 needs a GPU"):
        default_config("fare", "clip-convnext", "out", precision="bf16").validate()
    with pytest.raises(ValueError, match="did you mean 4/255"):
        default_config("fare", "clip-convnext", "out", eps="4").validate()
    with pytest.raises(ValueError, match="LoRA fine-tuning supports ConvNeXt"):
        _ = load_base_tower("clip-vit-b32", False, {"reduced": True}).lora_backbone


def _environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "PERCEPTBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}


NIGHTS_LORA = [
    "finetune",
    "nights",
    "--method",
    "lora",
    "--model",
    "clip-convnext",
    "--random-weights",
    "--model-kwarg",
    "reduced=true",
    "--batch-size",
    "2",
    "--epochs",
    "4",
    "--lr",
    "1e-2",
    "--checkpoint-every",
    "1",
    "--quiet",
]


def _adapter(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "lora" / "adapter_model.safetensors"))


def test_killed_run_resumes_to_bit_identical_weights(tmp_path, isolated_cache):
    write_nights(tmp_path / "data", _nights_rows(n_train=6, n_val=2, n_test=0))
    args = NIGHTS_LORA + ["--data-root", str(tmp_path / "data")]
    env = _environment(isolated_cache)
    whole = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args, "--output-dir", str(tmp_path / "whole")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert whole.returncode == 0, whole.stderr[-3000:]

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", *args, "--output-dir", str(killed)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if (killed / STATE_FILE).exists():
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (killed / CARD_FILE).exists()
    stopped_at = torch.load(killed / STATE_FILE, weights_only=True)["step"]
    assert 1 <= stopped_at < 12

    resumed = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args, "--output-dir", str(killed)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed at step {stopped_at}" in resumed.stdout
    a, b = _adapter(tmp_path / "whole"), _adapter(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(v.abs().max() > 0 for k, v in a.items() if "lora_B" in k), "the adapter trained"
    steps = [json.loads(line)["step"] for line in (killed / LOG_FILE).read_text().splitlines() if json.loads(line)["event"] == "step"]
    assert steps == list(range(1, 13)), "the log holds each step once"
    assert not (killed / STATE_FILE).exists()
    assert read_card(killed).sha256 == read_card(tmp_path / "whole").sha256


def test_two_gloo_processes_train_what_one_process_trains(tmp_path, isolated_cache):
    write_imagenet(tmp_path / "imagenet", {"n01440764": 3, "n01443537": 3})
    args = [
        "finetune",
        "fare",
        "--model",
        "clip-vit-b32",
        "--random-weights",
        "--model-kwarg",
        "reduced=true",
        "--data-root",
        str(tmp_path / "imagenet"),
        "--batch-size",
        "4",
        "--steps",
        "2",
        "--pgd-steps",
        "0",
        "--warmup-steps",
        "0",
        "--quiet",
    ]
    # --pgd-steps 0 trains at the random start, drawn for the whole batch and split by rows. With PGD steps the
    # points also agree only up to reduction order, and sign(gradient) turns that noise into +-step flips of
    # near-zero gradient pixels (test_pgd checks that a split batch attacks each sample as the whole batch).
    env = _environment(isolated_cache)
    single = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args, "--output-dir", str(tmp_path / "one")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    double = subprocess.run(
        [*launcher, "-m", "benchmark.cli", *args, "--output-dir", str(tmp_path / "two")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert double.returncode == 0, double.stderr[-3000:]
    assert double.stdout.count("trained fare") == 1, "only rank 0 reports"
    assert read_card(tmp_path / "two").training["world_size"] == 2
    one, two = load_file(str(tmp_path / "one" / "visual.safetensors")), load_file(str(tmp_path / "two" / "visual.safetensors"))
    start = load_base_tower("clip-vit-b32", False, {"reduced": True}, seed=0).visual.state_dict()
    assert any(not torch.equal(one[k], start[k]) for k in one), "the tower trained"
    for key in one:
        a, b = one[key], two[key]
        if key.endswith("attn.in_proj_bias"):
            # The key bias has a zero gradient in exact arithmetic (softmax ignores a shift shared by all keys), so
            # its gradient is reduction-order noise that Adam scales up to +-lr steps: compare the query and value parts.
            width = a.shape[0] // 3
            a, b = torch.cat([a[:width], a[2 * width :]]), torch.cat([b[:width], b[2 * width :]])
        # Adam divides by the gradient's running RMS, which magnifies reduction-order noise on small gradients:
        # allow a tenth of the two lr-sized steps (lr 1e-5, the recipe's).
        assert torch.allclose(a, b, atol=0.1 * 2 * 1e-5, rtol=0), key
    losses = [
        [json.loads(line)["loss"] for line in (tmp_path / run / LOG_FILE).read_text().splitlines() if json.loads(line)["event"] == "step"]
        for run in ("one", "two")
    ]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4, abs=1e-7), "the same loss at every step, gathered over the ranks"


def test_bench_evaluate_takes_the_output_folder(tmp_path):
    from click.testing import CliRunner

    from benchmark.cli.bench import main

    write_nights(tmp_path / "data", _nights_rows(n_train=2, n_val=2, n_test=2))
    runner = CliRunner()
    trained = runner.invoke(
        main,
        [
            *NIGHTS_LORA[: NIGHTS_LORA.index("--epochs")],
            "--steps",
            "1",
            "--quiet",
            "--data-root",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "metric"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    evaluated = runner.invoke(
        main,
        [
            "evaluate",
            "--model",
            str(tmp_path / "metric"),
            "--dataset",
            "nights",
            "--data-root",
            str(tmp_path / "data"),
            "--n-iter",
            "2",
            "--batch-size",
            "2",
            "--output-dir",
            str(tmp_path / "results"),
            "--quiet",
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(next((tmp_path / "results").rglob("*.json")).read_text())
    assert result["weights"] == "random" and result["model_card"]["finetuning"] == "NIGHTS-LoRA"
    assert result["model_card"]["extra"]["finetune_card"]["method"] == "lora"
    bad = runner.invoke(
        main, ["finetune", "fare", "--model", "dreamsim-clip-vit-b32", "--data-root", str(tmp_path), "--output-dir", str(tmp_path / "x")]
    )
    assert bad.exit_code != 0 and "open_clip image towers" in bad.output and "Traceback" not in bad.output


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("micro", [1, 3])
def test_micro_batches_train_the_weights_of_whole_batches(tmp_path, micro):
    """Gradient accumulation over micro-batches is an execution detail: the same weights, the same configuration hash.

    NIGHTS-MLP, 2 steps of 4 triplets (micro-batches of 3: an uneven last one). The whole-tower recipes are compared
    on their gradients (below): Adam's steps are near sign(gradient), so float-order noise on near-zero entries of a
    whole tower's gradient becomes lr-sized weight differences, as between torchrun process counts.
    """
    write_nights(tmp_path / "data", _nights_rows(n_train=8, n_val=2, n_test=0))
    common = dict(data_root=str(tmp_path / "data"), batch_size=4, epochs=1, lr=1e-2, **TINY)
    whole = train(default_config("mlp", "clip-convnext", str(tmp_path / "whole"), **common))
    split = train(default_config("mlp", "clip-convnext", str(tmp_path / "split"), micro_batch_size=micro, **common))
    start = _weights(_recipe(default_config("mlp", "clip-convnext", str(tmp_path / "x"), **common)).model)
    a, b = _weights(whole.model), _weights(split.model)
    assert a.keys() == b.keys() == start.keys()
    difference = max(float((a[k] - b[k]).abs().max()) for k in a)
    moved = max(float((a[k] - start[k]).abs().max()) for k in a)
    assert difference <= 1e-6, f"micro-batches of {micro} changed the weights by {difference}"
    assert moved > 1e-3, f"training moved the weights by only {moved}"
    assert whole.card.config_hash == split.card.config_hash, "the micro-batch is not part of the run's identity"
    assert split.card.hyperparameters["micro_batch_size"] == micro and whole.card.hyperparameters["micro_batch_size"] == 4
    assert split.card.hyperparameters["batch_size"] == 4


@pytest.mark.parametrize(
    "method,model,micro,overrides",
    [
        # LoRA dropout draws from the global RNG once per pass, so micro-batches get other masks: compare without dropout.
        ("lora", "clip-vit-b16", 3, {"lora_dropout": 0.0, "lora_alpha": 16.0}),
        # --pgd-steps 0 trains at the random start, drawn for the whole batch: each micro-batch must take its rows' starts.
        # (With PGD steps, sign(gradient) turns float-order noise into +-step flips of near-zero-gradient pixels.)
        ("fare", "clip-convnext", 3, {"pgd_steps": 0}),
        ("tecoa", "clip-vit-b32", 2, {"pgd_steps": 0}),
    ],
)
def test_micro_batches_accumulate_the_gradient_of_the_whole_batch(tmp_path, monkeypatch, method, model, micro, overrides):
    import finetune.trainer as trainer

    if method == "lora":
        write_nights(tmp_path / "data", _nights_rows(n_train=4, n_val=1, n_test=0))
    else:
        write_imagenet(tmp_path / "data", {"n01440764": 2, "n01443537": 2})
    recorded: list[torch.Tensor] = []
    original = trainer._sum_gradients

    def record(parameters, group):  # the first step's gradient, summed over its passes: same weights in both runs
        if len(recorded) < 2:
            recorded.append(torch.cat([p.grad.reshape(-1) for p in parameters]))
        original(parameters, group)

    monkeypatch.setattr(trainer, "_sum_gradients", record)
    common = dict(data_root=str(tmp_path / "data"), batch_size=4, steps=1, warmup_steps=0, **overrides, **TINY)
    train(default_config(method, model, str(tmp_path / "whole"), **common))
    train(default_config(method, model, str(tmp_path / "split"), micro_batch_size=micro, **common))
    whole, split = recorded
    relative = float((whole - split).norm() / whole.norm())
    # fp32 passes of other sizes round differently (FARE's loss, a difference of close embeddings, measured 3e-5);
    # with a float64 tower (below) the chunked gradient agrees to 1e-12.
    assert whole.norm() > 0 and relative < 2e-4, f"{method}: micro-batches of {micro} changed the gradient by {relative:.2e}"


@pytest.mark.parametrize(
    "method,model,micro,overrides,tolerance",
    [
        ("mlp", "clip-convnext", 1, {}, 1e-12),
        ("lora", "clip-vit-b16", 3, {"lora_dropout": 0.0, "lora_alpha": 16.0}, 1e-12),
        ("fare", "clip-convnext", 3, {"pgd_steps": 2}, 1e-12),
        # TeCoA's logits are an fp32 product with the fp32 class vectors, whatever the tower's precision.
        ("tecoa", "clip-vit-b32", 2, {"pgd_steps": 2}, 1e-6),
    ],
)
def test_micro_batch_gradients_are_exact_in_float64(tmp_path, method, model, micro, overrides, tolerance):
    """With a float64 tower, where rounding cannot flip PGD's sign steps, a step's passes sum to the whole batch's gradient.

    The objectives cast the embedding to fp32, which rounds the same values the same way; the losses stay fp32.
    """
    from finetune.trainer import accumulate_gradients

    if method in ("mlp", "lora"):
        write_nights(tmp_path / "data", _nights_rows(n_train=4, n_val=1, n_test=0))
    else:
        write_imagenet(tmp_path / "data", {"n01440764": 2, "n01443537": 2})
    config = default_config(method, model, str(tmp_path / "out"), data_root=str(tmp_path / "data"), batch_size=4, **overrides, **TINY)
    recipe = _recipe(config)
    recipe.model.double()
    for attribute in ("original",):  # the objectives cast embeddings to fp32, where the class vectors stay
        if getattr(recipe, attribute, None) is not None:
            setattr(recipe, attribute, getattr(recipe, attribute).double())
    batch = default_collate([recipe.train_set[i] for i in range(4)])
    batch = {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}
    parameters = list(recipe.trainable_parameters().values())
    gradients, statistics = [], []
    for size in (4, micro):
        for parameter in parameters:
            parameter.grad = None
        # rows 1, 3, 5, 7 of a global batch of 8: this process's share, as the second of two processes
        statistics.append(accumulate_gradients(recipe, batch, [1, 3, 5, 7], 8, size, 11, torch.device("cpu")))
        gradients.append(torch.cat([p.grad.reshape(-1) for p in parameters]))
    whole, split = gradients
    relative = float((whole - split).norm() / whole.norm())
    assert whole.norm() > 0 and relative < tolerance, f"{method}: micro-batches of {micro} changed the gradient by {relative:.2e}"
    assert statistics[1].keys() == statistics[0].keys()
    assert statistics[1] == pytest.approx(statistics[0], rel=1e-6)
    assert statistics[0]["count"] == 4


def test_batch_size_auto_keeps_the_recipe_batch_and_fits_the_micro_batch(tmp_path):
    from click.testing import CliRunner

    from benchmark.cli.bench import main
    from benchmark.runtime.acceleration import CPU_AUTO_BATCH_SIZE

    write_nights(tmp_path / "data", _nights_rows(n_train=7, n_val=2, n_test=0))
    base = ["finetune", "nights", "--method", "mlp", "--model", "clip-convnext", "--random-weights", "--model-kwarg", "reduced=true"]
    base += ["--data-root", str(tmp_path / "data"), "--steps", "1", "--quiet"]
    runner = CliRunner()
    result = runner.invoke(main, [*base, "--batch-size", "auto", "--output-dir", str(tmp_path / "auto")])
    assert result.exit_code == 0, result.output
    card = read_card(tmp_path / "auto")
    # The recipe's global batch (DreamSim MLP: 512); on the CPU 'auto' gives a fixed number of images, 3 per triplet.
    assert card.hyperparameters["batch_size"] == 512 and card.sources["batch_size"].startswith("DreamSim")
    assert card.hyperparameters["micro_batch_size"] == CPU_AUTO_BATCH_SIZE // 3
    assert card.sources["micro_batch_size"].startswith("auto")
    start = json.loads((tmp_path / "auto" / LOG_FILE).read_text().splitlines()[0])
    assert start["micro_batch_size"] == CPU_AUTO_BATCH_SIZE // 3 and "micro_batch_size" not in start["config"]
    # Leaving --batch-size out is the same run: the same identity, so the folder counts as trained.
    again = runner.invoke(main, [*base, "--micro-batch-size", "2", "--output-dir", str(tmp_path / "auto")])
    assert again.exit_code == 0 and "already trained" in again.output, again.output

    for bad in ("0", "-3", "two"):
        refused = runner.invoke(main, [*base, "--micro-batch-size", bad, "--output-dir", str(tmp_path / "bad")])
        assert refused.exit_code != 0 and "Traceback" not in refused.output
        assert f"--micro-batch-size must be a whole number >= 1 or 'auto', got '{bad}'" in refused.output
        assert len(refused.output.strip().splitlines()) == 1, refused.output
    assert not (tmp_path / "bad").exists()
