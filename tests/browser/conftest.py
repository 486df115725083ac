"""Browser tests over the built book: a real Chromium, driven by Playwright, reads every page.

The HTML comes from $BOOK_HTML (``make browser`` sets it to the strict test build; default
``_build/html``). A threaded ``http.server`` on 127.0.0.1 serves it; every request for any other
host is blocked and recorded, so a page that needs the network fails its test.

Chromium is Debian's (``/usr/bin/chromium``, or $CHROMIUM): never the browser that
``playwright install`` downloads. A missing browser or a missing build is a failure, never a
skip: `make test` installs Chromium where it can.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--mute-audio",
]
VIEWPORT = {"width": 1280, "height": 900}
# axe-core, from npm (package.json devDependencies): the tests inject it; the book never ships it.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# The WCAG 2 rules at levels A and AA. (wcag21a would add label-content-name-mismatch, which the
# theme's search and colour-mode buttons fail on every page: issue 15 left that to the theme.)
AXE_TAGS = ["wcag2a", "wcag2aa"]

# The repository the launch buttons point at (_config.yml: repository).
REPO = "vae-book/vae-book"
BRANCH = "main"


def book_html() -> Path:
    return (ROOT / os.environ.get("BOOK_HTML", "_build/html")).resolve()


def toc_pages() -> list[str]:
    """The book's pages in reading order, from _toc.yml: 'index.html', 'book/intro.html', ..."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return ["index.html"] + [f"{p}.html" for p in pages]


def notebook_pages() -> list[str]:
    """The toc pages whose source is a notebook: they carry the launch buttons."""
    return [p for p in toc_pages() if (ROOT / p).with_suffix(".ipynb").is_file()]


def all_pages() -> list[str]:
    """Every page a reader can reach: the toc pages plus Sphinx's own (index, search)."""
    return toc_pages() + ["genindex.html", "search.html"]


def _chromium() -> str | None:
    candidate = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if Path(candidate).is_file():
        return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # silence the request log
        pass


@pytest.fixture(scope="session")
def html_dir() -> Path:
    path = book_html()
    if not (path / "index.html").is_file():
        pytest.fail(
            f"no built book at {path} (set BOOK_HTML, or run `make test-book` first)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def server(html_dir):
    """http://127.0.0.1:PORT/ serving the built HTML from a thread."""
    handler = functools.partial(_Handler, directory=str(html_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    if executable is None:
        message = "Chromium is missing: apt-get install chromium (or set $CHROMIUM)"
        pytest.fail(message, pytrace=False)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@dataclass
class Visit:
    """What one page did while it loaded in the browser."""

    page_name: str
    external: list[str] = field(default_factory=list)  # requests for hosts other than localhost
    failed: list[str] = field(default_factory=list)  # failed requests, HTTP errors
    console_errors: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # filled in by open_page's probes


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOCAL_HOSTS or f"[{parts.hostname}]" in LOCAL_HOSTS


@pytest.fixture(scope="session")
def open_page(browser, server):
    """open_page(name) -> (page, Visit): a fresh context, network fenced to localhost, page loaded.

    The page is settled when it returns: load event, network idle, MathJax's typesetting done, the
    widget views drawn. The caller closes page.context when done.
    """

    def _open(name: str):
        visit = Visit(name)
        context = browser.new_context(viewport=VIEWPORT, service_workers="block")

        def route(route):
            url = route.request.url
            if _is_local(url):
                route.continue_()
            else:
                visit.external.append(url)
                route.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: msg.type == "error"
            and visit.console_errors.append(f"{msg.text} ({msg.location.get('url', '')})"),
        )
        page.on("pageerror", lambda exc: visit.console_errors.append(f"uncaught: {exc}"))

        def on_failed(request):
            if _is_local(request.url):
                visit.failed.append(f"{request.url}: {request.failure}")

        def on_response(response):
            if response.status >= 400 and not response.url.endswith("/favicon.ico"):
                visit.failed.append(f"{response.url}: HTTP {response.status}")

        page.on("requestfailed", on_failed)
        page.on("response", on_response)
        page.goto(server + name, wait_until="load", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        # MathJax 3 (a deferred script, so it ran before the load event) typesets after its
        # startup; wait for that where the page has it. The math test reports math left raw.
        page.evaluate(
            """() => {
                const s = window.MathJax && window.MathJax.startup;
                if (!s || !s.promise) return false;
                const late = new Promise(ok => setTimeout(() => ok("late"), 30000));
                return Promise.race([s.promise.then(() => true), late]);
            }"""
        )
        # Widget views: each view script gets a drawn .widget-subarea before it.
        views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        if views:
            try:
                page.wait_for_function(
                    "n => document.querySelectorAll('.widget-subarea').length >= n",
                    arg=views,
                    timeout=30_000,
                )
            except PlaywrightTimeout:  # the widget test reports what is missing
                pass
        # Every image eager, then decoded (lazy images below the fold count too).
        page.evaluate(
            """async () => {
                const imgs = Array.from(document.images);
                imgs.forEach(img => { img.loading = "eager"; });
                await Promise.all(imgs.map(img => img.decode().catch(() => null)));
            }"""
        )
        page.wait_for_load_state("networkidle", timeout=60_000)
        return page, visit

    return _open


@pytest.fixture(scope="session")
def visited(open_page):
    """visited(name) -> Visit: each page opened once per session, probed, and photographed."""
    cache: dict[str, Visit | Exception] = {}

    def _visited(name: str) -> Visit:
        if name not in cache:
            try:
                page, visit = open_page(name)
                try:
                    visit.facts = page.evaluate(PROBE)
                    visit.facts["axe"] = audit(page)
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    shot = SCREENSHOTS / (name.replace("/", "__").removesuffix(".html") + ".png")
                    page.screenshot(path=str(shot), full_page=True)
                    visit.facts["screenshot"] = str(shot)
                finally:
                    page.context.close()
                cache[name] = visit
            except Exception as exc:  # every test of this page fails with it, without retrying
                cache[name] = exc
        if isinstance(cache[name], Exception):
            raise cache[name]
        return cache[name]

    return _visited


def audit(page) -> list[dict] | str:
    """The page's axe-core violations of AXE_TAGS; a message instead when axe-core is missing.

    axe's bundle defines AMD modules when it sees RequireJS (the widget pages load it), and
    RequireJS reports such unrequested modules as errors; it runs with `define` hidden.
    """
    if not AXE.is_file():
        return f"{AXE} is missing: run `npm ci` in the repository root"
    source = AXE.read_text(encoding="utf-8")
    page.add_script_tag(content=f"(function (define) {{\n{source}\n}}).call(window);")
    return page.evaluate(AXE_RUN, AXE_TAGS)


# Runs in the page: the violations, each with its rule, impact and the elements it found. axe's
# experimental rules (p-as-heading, td-has-header, ...) are left out, as axe itself does by
# default: they are not reliable yet.
AXE_RUN = """async tags => {
    const experimental = window.axe.getRules(["experimental"]).map(rule => rule.ruleId);
    const result = await window.axe.run(document, {
        runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
        rules: Object.fromEntries(experimental.map(id => [id, {enabled: false}])),
    });
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.map(n => n.target.join(" ")),
    }));
}"""


# Runs in the page: what the tests assert on, gathered in one pass.
PROBE = r"""() => {
    const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    const skip = "pre, code, script, style, textarea, mjx-container, .highlight, .jupyter-widgets";
    // Visible prose: text nodes outside code and outside MathJax's output.
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const text = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest(skip) || !visible(parent)) continue;
        text.push(node.textContent);
    }
    const mathEls = Array.from(document.querySelectorAll(
        "article .math, article span.math, article div.math"));
    const images = Array.from(document.images).map(img => ({
        src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth,
    }));
    const links = Array.from(document.querySelectorAll("a[href]")).map(a => a.href);
    return {
        title: document.title,
        url: location.href,
        text: text.join(" "),
        html: document.documentElement.outerHTML,
        math: mathEls.length,
        math_typeset: mathEls.filter(el => el.querySelector("mjx-container")).length,
        mjx: document.querySelectorAll("mjx-container").length,
        images: images,
        links: links,
        widget_views: document.querySelectorAll(
            'script[type="application/vnd.jupyter.widget-view+json"]').length,
        widget_subareas: document.querySelectorAll(".widget-subarea").length,
        widget_state: Array.from(document.querySelectorAll(
            'script[type="application/vnd.jupyter.widget-state+json"]')).map(s => s.textContent),
        sliders_visible: Array.from(document.querySelectorAll(
            ".widget-slider, .jupyter-widgets input[type=range], .widget-subarea .noUi-target"
        )).filter(visible).length,
        explorers: document.querySelectorAll("[data-vae-explorer]").length,
        // Code cells wider than the column (they would scroll sideways): their first lines.
        wide_code: Array.from(document.querySelectorAll("div.cell_input pre"))
            .filter(pre => visible(pre) && pre.scrollWidth > pre.clientWidth + 2)
            .map(pre => pre.textContent.split("\n")[0]),
        // Output figures drawn at less than half their size: too small to read.
        shrunk_figures: Array.from(document.querySelectorAll("div.cell_output img"))
            .filter(img => img.naturalWidth > 0 && img.clientWidth < 0.5 * img.naturalWidth)
            .map(img => `${img.naturalWidth}px shown at ${img.clientWidth}px`),
        kernel_notes: document.querySelectorAll(".vae-kernel-note").length,
        live_explorers: Array.from(document.querySelectorAll(".jupyter-widgets.widget-hbox"))
            .filter(box => box.querySelector("img") && box.querySelector(".widget-slider"))
            .length,
        reference_labels: Array.from(document.querySelectorAll(".citation .label"))
            .map(el => el.textContent.trim()),
        launch_menu_visible: Array.from(document.querySelectorAll(
            ".dropdown-launch-buttons button")).filter(visible).length,
    };
}"""
