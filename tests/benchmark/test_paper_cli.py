"""`bench evaluate` on each new task, `bench data download/verify` and `bench reproduce`, end to end."""

import dataclasses
import hashlib
import io
import json
import tarfile

import pytest
from click.testing import CliRunner
from paper_data import replace_dataset_source, write_bapps_split, write_detection, write_nights, write_revisited, write_things

from benchmark.cli.bench import main
from benchmark.datasets.bapps import BAPPS_SOURCE, BAPPS_VAL_SPLITS
from benchmark.datasets.revisited import revisited_source
from benchmark.results import read_result, read_samples

RED, YELLOW, BLUE = (220, 30, 30), (220, 220, 30), (30, 30, 220)


def _evaluate(tmp_path, *args):
    out = CliRunner().invoke(
        main, ["evaluate", "--data-root", str(tmp_path / "data"), "--output-dir", str(tmp_path / "results"), "--quiet", *args]
    )
    assert out.exit_code == 0, out.output
    return read_result(out.output.strip().split("-> ")[-1])


def test_evaluate_nights_end_to_end(tmp_path):
    write_nights(
        tmp_path / "data",
        [
            dict(left_vote=1, right_vote=5, votes=6, split="test", is_imagenet="True"),
            dict(left_vote=6, right_vote=0, votes=6, split="test", is_imagenet="False"),
        ],
    )
    result = _evaluate(tmp_path, "--model", "pixel-l2", "--dataset", "nights", "--n-iter", "2")
    assert result.dataset == "nights" and result.scores.n == 2 and result.task == "2afc"
    assert result.scores.robust <= result.scores.clean and result.scores.clean in (0.0, 0.5, 1.0)


def test_evaluate_bapps_first_n_per_split_with_soft_labels(tmp_path):
    for split in BAPPS_VAL_SPLITS:
        write_bapps_split(tmp_path / "data" / "bapps" / "2afc" / "val", split, [0.6, 0.4, 0.8])
    result = _evaluate(
        tmp_path,
        "--model",
        "pixel-l2",
        "--dataset",
        "bapps",
        "--attack",
        "none",
        "--n-ex-per-split",
        "2",
        "--dataset-option",
        "labels=soft",
    )
    assert result.scores.n == 12 and set(result.scores.per_split) == set(BAPPS_VAL_SPLITS)
    assert result.attack is None and result.config["dataset_options"] == {"labels": "soft"}
    assert result.protocol["labels"] == "soft" and result.protocol["attacked_resolution"] == [224, 224]
    samples = read_samples(tmp_path / "results" / "bapps" / (result_stem := _stem(tmp_path, "bapps")))
    assert sorted({round(float(s["judge"]), 4) for s in samples}) == [0.4, 0.6]  # the judge fractions
    assert {round(float(s["clean_score"]), 4) for s in samples} <= {0.4, 0.6}  # soft score: the agreeing fraction
    assert "n2-per-split" in result_stem and "labels-soft" in result_stem


def _stem(tmp_path, dataset):
    [path] = (tmp_path / "results" / dataset).glob("*.json")
    return path.name


def test_evaluate_things_clean_only(tmp_path):
    write_things(tmp_path / "data", 3, [(1, 2, 3, 3), (1, 3, 2, 2)], colours=[RED, (200, 40, 40), BLUE])
    out = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            "pixel-l2",
            "--dataset",
            "things",
            "--attack",
            "none",
            "--data-root",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "results"),
            "--quiet",
        ],
    )
    assert out.exit_code == 0 and "clean 100.00 (clean only)" in out.output and "robust" not in out.output
    result = read_result(out.output.strip().split("-> ")[-1])
    # red-ish pair (1, 2) belongs together: the blue image 3 is odd in both orders
    assert result.task == "odd-one-out" and result.scores.clean == 1.0 and result.scores.n == 2
    out = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            "pixel-l2",
            "--dataset",
            "things",
            "--data-root",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "other"),
            "--quiet",
        ],
    )
    assert out.exit_code == 1 and "evaluated clean (paper Table XII); pass --attack none" in out.output


def test_evaluate_detection_under_targeted_attack(tmp_path):
    write_detection(
        tmp_path / "data" / "detect" / "nsfw",
        {
            "pool": {"neutral": [RED], "porn": [BLUE], "sexy": [YELLOW]},
            "query": {"neutral": [RED, YELLOW], "porn": [BLUE]},
            "target": {"neutral": [RED], "porn": [BLUE, BLUE]},
        },
        manifest={},
    )
    out = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            "pixel-l2",
            "--dataset",
            "detect",
            "--data-root",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "results"),
            "--quiet",
        ],
    )
    assert out.exit_code == 1 and 'no attack target for query class(es) neutral, porn; set "targets"' in out.output
    # with 'sexy' as the buffer, the two labelled classes are each other's targets
    (tmp_path / "data" / "detect" / "nsfw" / "detection.json").write_text(json.dumps({"buffer": "sexy"}))
    result = _evaluate(tmp_path, "--model", "pixel-l2", "--dataset", "detect", "--eps", "8/255", "--n-iter", "3")
    fractions = result.scores.extra["clean_fractions"]
    assert fractions["neutral"] == {"neutral": 0.5, "porn": 0.0, "sexy": 0.5} and fractions["porn"]["porn"] == 1.0
    assert set(result.scores.per_split) == {"nsfw-neutral-query", "nsfw-porn-query"}  # the rows of Table III
    samples = read_samples(tmp_path / "results" / "detect" / _stem(tmp_path, "detect"))
    assert [s["target_class"] for s in samples] == ["porn", "porn", "neutral"]
    assert all(0 < float(s["perturbation_norm"]) <= 8 / 255 + 1e-6 for s in samples)


def test_evaluate_retrieval_under_untargeted_attack(tmp_path):
    imlist = ["a", "b", "c", "d"]
    gnd = [{"easy": [0], "hard": [1], "junk": [2], "bbx": [0, 0, 40, 40]}, {"easy": [3], "hard": [], "junk": [], "bbx": [0, 0, 40, 40]}]
    colours = {"a": RED, "b": (200, 50, 40), "c": (210, 40, 40), "d": BLUE, "q1": RED, "q2": BLUE}
    write_revisited(tmp_path / "data", "roxford5k", imlist, ["q1", "q2"], gnd, colours)
    result = _evaluate(tmp_path, "--model", "pixel-l2", "--dataset", "roxford5k", "--n-iter", "3", "--batch-size", "2")
    assert result.task == "retrieval" and result.scores.n == 2
    assert result.scores.protocols["medium"].clean == pytest.approx(1.0)  # red query: the two red positives first, junk ignored
    assert result.scores.protocols["hard"].clean == pytest.approx(1.0)  # only q1 has a hard positive
    assert 0.0 <= result.scores.protocols["medium"].robust <= 1.0


def test_reproduce_table1_dry_run_matches_the_paper():
    from benchmark.paper.reproduce import weights_status

    weights = weights_status("r-clip-t-convnext")  # cached or downloads: the plan's weights column
    out = CliRunner().invoke(main, ["reproduce", "table1", "--dry-run"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert "125 runs" in lines[0]  # 25 models x (NIGHTS linf, NIGHTS l2, BAPPS clean, BAPPS linf, BAPPS l2)
    rows = [line.split() for line in lines if line.startswith("r-clip-t-convnext ")]
    assert rows == [
        ["r-clip-t-convnext", "nights", "test", "linf", "4/255", "apgd-ce", "100x1", "all", weights],
        ["r-clip-t-convnext", "nights", "test", "l2", "3.0", "apgd-ce", "100x1", "all", weights],
        ["r-clip-t-convnext", "bapps", "all", "splits", "clean", "only", "-", "none", "-", "all", weights],
        ["r-clip-t-convnext", "bapps", "all", "splits", "linf", "4/255", "apgd-ce", "100x1", "first", "1000", "per", "split", weights],
        ["r-clip-t-convnext", "bapps", "all", "splits", "l2", "3.0", "apgd-ce", "100x1", "first", "1000", "per", "split", weights],
    ]
    assert any(line.startswith("clip-convnext ") and line.rstrip().endswith(weights_status("clip-convnext")) for line in lines)
    assert any(line.startswith("clip-convnext+lora ") and line.rstrip().endswith("NOT IN ZOO: weights not published") for line in lines)
    table3 = CliRunner().invoke(main, ["reproduce", "table3", "--dry-run"]).output
    assert "detect" in table3 and "8/255" in table3 and "200x1" in table3


def test_reproduce_runs_a_table_and_writes_an_index(tmp_path):
    out = CliRunner().invoke(main, ["reproduce", "table14", "--models", "pixel-l2", "--data-root", str(tmp_path / "data"), "--quiet"])
    assert out.exit_code == 1 and "table14 needs dataset(s) bapps, not found" in out.output
    for split in BAPPS_VAL_SPLITS:
        write_bapps_split(tmp_path / "data" / "bapps" / "2afc" / "val", split, [0.6])
    out = CliRunner().invoke(
        main,
        [
            "reproduce",
            "table14",
            "--models",
            "pixel-l2,not-a-model,r-dino-f-vit-b16",
            "--data-root",
            str(tmp_path / "data"),
            "--output-dir",
            str(tmp_path / "results"),
            "--quiet",
        ],
    )
    assert out.exit_code == 0, out.output
    index = json.loads((tmp_path / "results" / "reproduce-table14.json").read_text())
    ran, skipped, unpublished = index["runs"]
    assert ran["config"]["attack"] == "none" and ran["weights"] == "none" and ran["robust"] is None
    assert read_result(ran["result_file"]).scores.n == 6
    assert "not in the zoo: not registered" in skipped["skipped"]
    assert "no public download; put the file at" in unpublished["skipped"] and "skip r-dino-f-vit-b16" in out.output


def _bapps_archive(tmp_path, extra_member=None):
    """twoafc_val.tar.gz as published: members val/<split>/{ref,p0,p1,judge}/..."""
    staging = tmp_path / "staging"
    for split in BAPPS_VAL_SPLITS:
        write_bapps_split(staging / "val", split, [0.2, 0.8])
    archive = tmp_path / "twoafc_val.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(staging / "val", arcname="val")
        if extra_member:
            info = tarfile.TarInfo(extra_member)
            info.size = 3
            bundle.addfile(info, io.BytesIO(b"bad"))
    return archive


def _use_source(monkeypatch, archive, sha256):
    download = dataclasses.replace(BAPPS_SOURCE.downloads[0], url=archive.as_uri(), sha256=sha256)
    replace_dataset_source(monkeypatch, "bapps", downloads=(download,))


def test_data_download_verifies_checksum_unpacks_and_verify_passes(tmp_path, monkeypatch):
    archive = _bapps_archive(tmp_path)
    _use_source(monkeypatch, archive, hashlib.sha256(archive.read_bytes()).hexdigest())
    root = tmp_path / "data"
    out = CliRunner().invoke(main, ["data", "download", "bapps", "--data-root", str(root)])
    assert out.exit_code == 0, out.output
    assert "(verified)" in out.output and "bapps: complete" in out.output
    assert (root / "bapps" / "2afc" / "val" / "cnn" / "judge" / "000001.npy").is_file()
    out = CliRunner().invoke(main, ["data", "verify", "bapps", "--data-root", str(root)])
    assert out.exit_code == 0 and "cnn: 2 triplets" in out.output and "all checks passed" in out.output
    (root / "bapps" / "2afc" / "val" / "cnn" / "p1" / "000001.png").unlink()
    out = CliRunner().invoke(main, ["data", "verify", "bapps", "--data-root", str(root)])
    assert out.exit_code == 1 and "problem: missing" in out.output and "cnn/p1/000001.png" in out.output


def test_data_download_refuses_bad_checksums_and_escaping_archives(tmp_path, monkeypatch):
    archive = _bapps_archive(tmp_path)
    _use_source(monkeypatch, archive, "0" * 64)
    out = CliRunner().invoke(main, ["data", "download", "bapps", "--data-root", str(tmp_path / "data")])
    actual = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert out.exit_code == 1 and "checksum mismatch" in out.output and f"sha256 {actual}, expected " + "0" * 64 in out.output
    assert not (tmp_path / "data" / "bapps").exists() and "update the sha256 in benchmark/datasets/bapps.py" in out.output
    evil = _bapps_archive(tmp_path / "evil", extra_member="val/../../escape.txt")
    _use_source(monkeypatch, evil, None)
    out = CliRunner().invoke(main, ["data", "download", "bapps", "--data-root", str(tmp_path / "data2")])
    assert out.exit_code == 1 and "member 'val/../../escape.txt' would land outside" in out.output
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "data2" / "bapps" / "2afc" / "val").exists()


def test_data_download_offline_says_what_to_fetch_by_hand_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    out = CliRunner().invoke(main, ["data", "download", "bapps", "--data-root", str(tmp_path)])
    url = BAPPS_SOURCE.downloads[0].url
    assert out.exit_code == 1 and out.output.startswith("Error: offline") and out.output.count("\n") == 1
    assert f"cannot fetch {url}; download it by hand and unpack it into {tmp_path / 'bapps' / '2afc'}" in out.output
    assert not (tmp_path / ".downloads").exists()


def test_data_verify_reports_nights_counts_and_pool_overlap(tmp_path):
    write_nights(tmp_path, [dict(left_vote=1, right_vote=5, votes=6, split="test", is_imagenet="True")])
    out = CliRunner().invoke(main, ["data", "verify", "nights", "--data-root", str(tmp_path)])
    assert "test: 1 triplets with >= 6 votes" in out.output and "problem: " in out.output  # no val/train rows
    write_detection(
        tmp_path / "detect" / "nsfw", {"pool": {"a": [RED], "b": [BLUE]}, "query": {"a": [RED]}, "target": {"a": [RED], "b": [BLUE]}}
    )
    query = tmp_path / "detect" / "nsfw" / "query" / "a" / "a_000.png"
    query.write_bytes((tmp_path / "detect" / "nsfw" / "pool" / "a" / "a_000.png").read_bytes())
    out = CliRunner().invoke(main, ["data", "verify", "detect", "--data-root", str(tmp_path)])
    assert out.exit_code == 1 and "1 query image(s) also in the pool" in out.output
    out = CliRunner().invoke(main, ["data", "download", "things", "--data-root", str(tmp_path)])
    assert out.exit_code == 0 and "manual step for things" in out.output and str(tmp_path / "things") in out.output


def test_data_download_revisited_flattens_nested_archives_and_verify_counts(tmp_path, monkeypatch):
    import zipfile

    staging = write_revisited(
        tmp_path / "staging",
        "rparis6k",
        ["paris_defense_000001", "paris_louvre_000002"],
        ["paris_louvre_000003"],
        [{"easy": [1], "hard": [], "junk": [0], "bbx": [0, 0, 10, 10]}],
        {"paris_defense_000001": RED, "paris_louvre_000002": BLUE, "paris_louvre_000003": BLUE},
    )
    archive = tmp_path / "paris_1-v1.zip"
    with zipfile.ZipFile(archive, "w") as bundle:  # images nested as paris/<landmark>/<name>.jpg
        for image in sorted((staging / "jpg").iterdir()):
            bundle.write(image, f"paris/{image.stem.split('_')[1]}/{image.name}")
    gnd = staging / "gnd_rparis6k.pkl"
    old = revisited_source("rparis6k")
    downloads = (dataclasses.replace(old.downloads[0], url=gnd.as_uri()), dataclasses.replace(old.downloads[1], url=archive.as_uri()))
    replace_dataset_source(monkeypatch, "rparis6k", downloads=downloads)
    root = tmp_path / "data"
    out = CliRunner().invoke(main, ["data", "download", "rparis6k", "--data-root", str(root)])
    assert out.exit_code == 0, out.output
    assert "unpacked 3 files" in out.output and "not published by the source; recorded" in out.output
    assert sorted(p.name for p in (root / "revisited" / "rparis6k" / "jpg").iterdir()) == [
        "paris_defense_000001.jpg",
        "paris_louvre_000002.jpg",
        "paris_louvre_000003.jpg",
    ]
    record = json.loads((root / "DOWNLOADS.json").read_text())
    assert record[gnd.as_uri()]["sha256"] == hashlib.sha256(gnd.read_bytes()).hexdigest()
    out = CliRunner().invoke(main, ["data", "verify", "rparis6k", "--data-root", str(root)])
    assert out.exit_code == 1 and "ok: 2 database images, 1 queries" in out.output
    assert "rparis6k has 6322/70" in out.output and "missing" not in out.output
