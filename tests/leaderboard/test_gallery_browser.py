"""The adversarial-example gallery and the certified column in real headless Chromium, from file://.

Screenshots of the model page and the index go to a temporary folder (never committed); the test asserts every
gallery image decoded (naturalWidth > 0), which a missing, misnamed or corrupt PNG would fail.
"""

import warnings

import pytest
from test_leaderboard_browser import CHROMEDRIVER, CHROMIUM, browser  # noqa: F401  # the module-scoped Chromium fixture

from benchmark.runner import EvaluationConfig, run_evaluation
from leaderboard import build_site
from leaderboard.model_pages import model_slug

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="headless Chromium not installed (apt-get install chromium chromium-driver)"
)
MODELS = ("pixel-l2", "ssim")


@pytest.fixture(scope="module")
def gallery_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery-site")
    for model in MODELS:
        config = EvaluationConfig(
            model=model, threat="l2", eps="0.5", n_ex=4, n_iter=3, certify="smoothing", certify_n=50, certify_n0=10, save_adversarial=2
        )
        run_evaluation(config, root / "results", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_site(root / "results", root / "site", include_reported=False)
    return root


def _images(driver, selector):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(function (img) {"
        " return [img.getAttribute('src'), img.complete, img.naturalWidth]; });",
        selector,
    )


def _scroll_to(driver, selector):
    """Bring the element into the viewport and say it is there (its top within the window)."""
    top = driver.execute_script(
        "var e = document.querySelector(arguments[0]); e.scrollIntoView(); return e.getBoundingClientRect().top;", selector
    )
    assert 0 <= top < driver.execute_script("return window.innerHeight;"), (selector, top)


def test_model_page_gallery_and_index_examples_load_in_chromium(browser, gallery_site):  # noqa: F811
    site, shots = gallery_site / "site", gallery_site / "screenshots"
    shots.mkdir()
    browser.get((site / "models" / f"{model_slug('pixel-l2')}.html").as_uri())
    images = _images(browser, "#gallery ~ .gallery img.gallery-img")
    assert len(images) == 2 * 5  # two examples: reference, adversarial, perturbation, x0, x1
    assert all(complete and width > 0 for _, complete, width in images), images
    assert "humans chose" in browser.find_element("css selector", ".adversarial-example figcaption").text
    browser.save_screenshot(str(shots / "model-page.png"))
    _scroll_to(browser, "#gallery")  # a screenshot shows the viewport only: one of the gallery itself
    browser.save_screenshot(str(shots / "model-page-gallery.png"))

    browser.get((site / "index.html").as_uri())
    examples = _images(browser, "#adversarial-examples img.gallery-img")
    assert len(examples) == len(MODELS) and all(complete and width > 0 for _, complete, width in examples), examples
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('#adversarial-examples a')).map(a => a.getAttribute('href'));"
    )
    assert sorted(links) == sorted(f"models/{model_slug(m)}.html#gallery" for m in MODELS)
    headers = browser.execute_script("return Array.from(document.querySelectorAll('th.score-header')).map(th => th.textContent.trim());")
    assert any(header.startswith("certified (L2 0.5)") for header in headers), headers
    browser.save_screenshot(str(shots / "index.png"))
    _scroll_to(browser, "#adversarial-examples")
    browser.save_screenshot(str(shots / "index-examples.png"))
    assert all((shots / f"{name}.png").stat().st_size > 0 for name in ("model-page", "model-page-gallery", "index", "index-examples"))
