"""The built documentation site renders: pages, API reference, gallery and their images.

The site is built by ``.ci/run`` before the tests (``python -m sphinx -b html -W docs
docs/_build/html``). These tests serve the built HTML from a local server, fetch the
index, the API page of HAMURClassifier and a gallery example, and check their content and
that every image they show is served and is a real image; then they open the same pages
in headless Chromium and check that the browser displays the images.

Without a built site (``docs/_build/html``, or ``$SKLEARN_HAMUR_DOCS_HTML``) the tests are
skipped, and without Chromium and playwright the browser tests are, unless
``$SKLEARN_HAMUR_REQUIRE_DOCS=1`` / ``$SKLEARN_HAMUR_REQUIRE_BROWSER=1`` (set by
``.ci/run``), where what is missing is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("SKLEARN_HAMUR_DOCS_HTML", ROOT / "docs" / "_build" / "html"))
REQUIRE_SITE = os.environ.get("SKLEARN_HAMUR_REQUIRE_DOCS") == "1"
REQUIRE_BROWSER = os.environ.get("SKLEARN_HAMUR_REQUIRE_BROWSER") == "1"

INDEX = "index.html"
HAMUR_API = "generated/sklearn_hamur.HAMURClassifier.html"
GALLERY_EXAMPLE = "auto_examples/plot_per_domain_report.html"
ARCHITECTURE = "user_guide/model.html"

PNG = b"\x89PNG\r\n\x1a\n"


def _missing(what: str, *, required: bool) -> None:
    if required:
        pytest.fail(f"{what}, and it is required here")
    pytest.skip(what)


@pytest.fixture(scope="module")
def site_url():
    """Base URL of the built site, served on 127.0.0.1 for the module's tests."""
    if not (SITE / INDEX).is_file():
        _missing(
            f"no built documentation at {SITE}; build it with sphinx first", required=REQUIRE_SITE
        )

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output clean
            pass

    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _PageParser(HTMLParser):
    """Collects the text, the image sources and the link targets of a page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get_content_type(), response.read()


def _fetch_page(base: str, path: str) -> tuple[str, _PageParser]:
    url = urljoin(base, path)
    status, content_type, body = _get(url)
    assert status == 200 and content_type == "text/html", (url, status, content_type)
    parser = _PageParser()
    parser.feed(body.decode("utf-8"))
    return url, parser


def _page_text(parser: _PageParser) -> str:
    return " ".join("".join(parser.text).split())


def _local_images(page_url: str, parser: _PageParser) -> list[str]:
    urls = [urljoin(page_url, src) for src in parser.images]
    return [u for u in urls if urlparse(u).netloc == urlparse(page_url).netloc]


def _assert_images_served(page_url: str, parser: _PageParser, *, at_least: int) -> None:
    images = _local_images(page_url, parser)
    assert len(images) >= at_least, f"{page_url}: {len(images)} images, expected {at_least}+"
    for image in images:
        status, content_type, body = _get(image)
        assert status == 200, image
        if image.endswith(".png"):
            assert body.startswith(PNG) and len(body) > 2000, f"{image} is not a real PNG"
        elif image.endswith(".svg"):
            assert b"<svg" in body[:2000], f"{image} is not an SVG"
        else:
            assert content_type.startswith("image/"), (image, content_type)


def test_index_page(site_url):
    url, page = _fetch_page(site_url, INDEX)
    text = _page_text(page)
    assert "sklearn-hamur" in text
    assert "Hyper Adapter for Multi-Domain Recommendation" in text
    # The top-level navigation reaches every part of the site.
    for target in (
        "getting_started.html",
        "user_guide/index.html",
        "auto_examples/index.html",
        "benchmarks.html",
        "api.html",
        "changelog.html",
    ):
        assert any(link.split("#")[0].endswith(target) for link in page.links), target
    for link in page.links:  # every local link of the page leads to a served page
        target = urljoin(url, link.split("#")[0])
        if urlparse(target).netloc == urlparse(url).netloc and target.endswith(".html"):
            assert _get(target)[0] == 200, target


def test_hamur_api_page(site_url):
    _, page = _fetch_page(site_url, HAMUR_API)
    text = _page_text(page)
    assert "class sklearn_hamur.HAMURClassifier(*, domain_col='domain'" in text
    sections = ("Parameters", "Attributes", "See also", "Notes", "References", "Examples")
    starts = [text.find("Parameters:")]
    for section in sections[1:]:  # each section comes after the previous one
        starts.append(text.find(section, starts[-1] + 1))
    assert -1 not in starts, dict(zip(sections, starts))
    parameters = text[starts[0] : starts[1]]
    for parameter in ("domain_col", "adapter_rank", "d_adapter", "backbone", "random_state"):
        assert parameter in parameters, parameter
    for method in ("fit", "predict_proba", "save", "load"):
        assert f"HAMURClassifier.{method}" in " ".join(page.links) or method in text, method
    assert "HAMUR: Hyper Adapter for Multi-Domain Recommendation" in text  # the reference
    assert ">>> clf = HAMURClassifier(" in text  # the doctest example
    # intersphinx made links to scikit-learn or skorch pages.
    assert any("scikit-learn.org" in link or "skorch" in link for link in page.links)


def test_gallery_example_page(site_url):
    url, page = _fetch_page(site_url, GALLERY_EXAMPLE)
    text = _page_text(page)
    assert "Per-domain report" in text
    assert "DomainMetricsDisplay" in text
    # The example ran during the build: its printed table and its figures are on the page.
    assert "AUC hamur" in text and "AUC backbone" in text
    figures = [src for src in page.images if "sphx_glr_plot_per_domain_report" in src]
    assert len(figures) >= 4, figures  # two figures per model
    _assert_images_served(url, page, at_least=4)


def test_architecture_figure(site_url):
    url, page = _fetch_page(site_url, ARCHITECTURE)
    assert "hyper-network" in _page_text(page).lower()
    _assert_images_served(url, page, at_least=1)


def test_pages_load_the_site_stylesheet_and_full_size_figure_script(site_url):
    # custom.css wraps long "On this page" names; full_size_images.js makes every figure
    # a link to its full-size image (the architecture figure is small at page width).
    for path in (ARCHITECTURE, GALLERY_EXAMPLE, HAMUR_API):
        _, _, body = _get(urljoin(site_url, path))
        for asset in ("custom.css", "full_size_images.js"):
            assert f"_static/{asset}" in body.decode("utf-8"), f"{path} does not load {asset}"
    for asset in ("custom.css", "full_size_images.js"):
        with urllib.request.urlopen(urljoin(site_url, f"_static/{asset}")) as response:
            assert response.status == 200 and response.read()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        _missing("Chromium is not installed (apt-get install chromium)", required=REQUIRE_BROWSER)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[docs]')", required=REQUIRE_BROWSER)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            # Root in a container: no sandbox. No background networking: the machine has
            # no internet, and Chromium's own connections would only fail.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.mark.parametrize(
    ("path", "expected_text", "min_images"),
    [
        (INDEX, "Hyper Adapter for Multi-Domain Recommendation", 0),
        (HAMUR_API, "HAMURClassifier", 0),
        (GALLERY_EXAMPLE, "Per-domain report", 4),
        (ARCHITECTURE, "hyper-network", 1),
    ],
)
def test_pages_render_in_chromium(site_url, browser, tmp_path, path, expected_text, min_images):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    page.on(
        "requestfailed",
        lambda request: failed.append(request.url) if site_url in request.url else None,
    )
    response = page.goto(urljoin(site_url, path), wait_until="load")
    assert response is not None and response.ok
    # What a reader sees: the page's visible text, and images the browser decoded.
    assert expected_text.lower() in page.inner_text("body").lower()
    images = page.evaluate(
        """() => Array.from(document.images)
            .filter(img => img.src.startsWith(location.origin))
            .map(img => ({src: img.src, ok: img.complete && img.naturalWidth > 0,
                          width: img.naturalWidth, height: img.naturalHeight}))"""
    )
    assert len(images) >= min_images, images
    broken = [image["src"] for image in images if not image["ok"]]
    assert not broken, f"images the browser could not show: {broken}"
    assert not failed, f"local resources that failed to load: {failed}"
    # The theme's stylesheet applied: the navigation bar is laid out, not raw HTML.
    assert page.evaluate("() => getComputedStyle(document.body).fontFamily") != "Times New Roman"
    if min_images:  # every figure opens at full size (full_size_images.js)
        unlinked = page.evaluate(
            """() => Array.from(document.querySelectorAll("article img"))
                .filter(img => !img.closest("a[href]")).map(img => img.src)"""
        )
        assert not unlinked, f"figures without a full-size link: {unlinked}"
    if path == ARCHITECTURE:  # its formulas are typeset by the site's own MathJax
        page.wait_for_selector("mjx-container", timeout=20_000)
        assert "\\times" not in page.inner_text("article")
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes().startswith(PNG)
    page.close()
