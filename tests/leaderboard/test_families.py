"""The leaderboard groups metrics by kind (IQA, CLIP-based, DINO, ...): a `family` column and the site's filter groups."""

from test_leaderboard_fixtures import make_result

from benchmark.results import write_result
from leaderboard import build_site
from leaderboard.families import FAMILY_GROUPS, family_group
from leaderboard.frame import load_results
from model_zoo import get_model_card, list_models


def test_every_builtin_card_family_has_a_kind():
    assert {get_model_card(name).family for name in list_models()} <= set(FAMILY_GROUPS)
    assert family_group("iqa") == "IQA" and family_group("robust-clip") == "CLIP-based" and family_group("someone-elses") == "other"


def test_the_frame_and_the_site_group_rows_by_kind(tmp_path):
    results = tmp_path / "results"
    iqa_card = {"name": "iqa-gmsd", "family": "iqa", "backbone": "piq.gmsd"}
    write_result(make_result("iqa-gmsd", dataset="demo", split="demo", weights="none", card=iqa_card), [], results)
    write_result(make_result("r-clip-f-convnext", dataset="demo", split="demo"), [], results)
    frame = load_results(results)
    assert dict(zip(frame["model"], frame["family"])) == {"iqa-gmsd": "IQA", "r-clip-f-convnext": "CLIP-based"}
    build_site(results, tmp_path / "site", include_reported=False)
    html = (tmp_path / "site" / "index.html").read_text()
    assert '<optgroup label="IQA"><option value="iqa">iqa</option></optgroup>' in html
    assert '<optgroup label="CLIP-based"><option value="clip">clip</option></optgroup>' in html
