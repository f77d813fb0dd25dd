"""The certified column and the adversarial-example gallery on the site, and a gallery folder read as hostile."""

import json
import os
import warnings

import pytest

from benchmark.runner import EvaluationConfig, run_evaluation
from leaderboard import build_site
from leaderboard.model_pages import model_slug
from leaderboard.tables import build_tables, certified_column


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery-results")
    config = EvaluationConfig(model="pixel-l2", threat="l2", eps="0.5", n_ex=4, n_iter=3, certify="smoothing", certify_n=50, certify_n0=10)
    result, path = run_evaluation(EvaluationConfig(**{**config.__dict__, "save_adversarial": 2}), root, progress=False)
    return root, result, path


def test_the_certified_column_shows_the_runs_certified_accuracy(results):
    root, result, path = results
    (table,) = build_tables([(path, result)])
    column = certified_column("0.5")
    assert table.certified_columns == [column] and table.columns[-1] == column
    cell = table.rows[0].cells[column]
    assert cell.measured == result.certified.at_run.accuracy and cell.n == 4 and cell.attack_name == "smoothing"
    assert column not in table.rows[0].robust  # a certificate is not an attack's robust score


def test_the_site_copies_the_gallery_and_links_one_example_per_model(results, tmp_path):
    root, result, _ = results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_site(root, tmp_path, include_reported=False)
    page = (tmp_path / "models" / f"{model_slug('pixel-l2')}.html").read_text()
    assert page.count('class="gallery-img"') == 10 and "humans chose" in page
    index = (tmp_path / "index.html").read_text()
    assert f'href="models/{model_slug("pixel-l2")}.html#gallery"' in index and "certified (L2 0.5)" in index
    copied = sorted((tmp_path / "gallery" / model_slug("pixel-l2")).rglob("*.png"))
    assert (
        len(copied) == 10 and not list((tmp_path / "plots").glob("*adversarial*")) if (tmp_path / "plots").exists() else len(copied) == 10
    )


def test_a_gallery_image_that_leaves_its_folder_is_never_copied(results, tmp_path):
    root, result, path = results
    hostile = tmp_path / "results"
    (hostile / "demo").mkdir(parents=True)
    for source in path.parent.glob(path.stem + "*"):
        target = hostile / "demo" / source.name
        if source.is_dir():
            target.mkdir()
            for image in source.iterdir():
                (target / image.name).write_bytes(image.read_bytes())
        else:
            target.write_bytes(source.read_bytes())
    folder = hostile / "demo" / result.adversarial_examples
    secret = tmp_path / "secret.png"
    secret.write_bytes((folder / "001_reference.png").read_bytes())
    (folder / "001_reference.png").unlink()
    os.symlink(secret, folder / "001_reference.png")
    with pytest.warns(UserWarning, match="skipping the adversarial examples"):
        build_site(hostile, tmp_path / "site", include_reported=False)
    assert not (tmp_path / "site" / "gallery").exists() or not list((tmp_path / "site" / "gallery").rglob("001_reference.png"))
    record = json.loads((folder / "examples.json").read_text())
    record["examples"][0]["images"]["x0"] = "../../secret.png"
    (folder / "examples.json").write_text(json.dumps(record))
    with pytest.warns(UserWarning, match="skipping the adversarial examples"):
        build_site(hostile, tmp_path / "site2", include_reported=False)
