"""Every page of the built book, read in Chromium with no network (see conftest.py)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from .conftest import (
    BRANCH,
    REPO,
    ROOT,
    all_pages,
    notebook_pages,
    toc_pages,
)

# Pages that must show what the tests below check, so that a build which lost them fails.
MATH_PAGES = ["book/04_kl_derivation.html", "book/05_elbo.html", "book/06_gaussian_kl.html"]
EXPLORER_PAGES = ["book/10_latent_space.html"]  # the static latent explorer
# What the Colab install cell (first cell, tagged remove-cell) contains; the HTML must not.
INSTALL_CELL_MARKER = f"git+https://github.com/{REPO}"
SLIDER_MODELS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel",
                 "IntRangeSliderModel", "FloatRangeSliderModel", "SelectionSliderModel",
                 "SelectionRangeSliderModel"}


def _problems(visit) -> list[str]:
    return (
        [f"request left localhost: {u}" for u in visit.external]
        + [f"failed request: {f}" for f in visit.failed]
        + [f"console error: {e}" for e in visit.console_errors]
    )


# ---------------------------------------------------------------------------------------------
# The build has every page of the table of contents.


def test_every_toc_page_is_built(html_dir):
    missing = [p for p in toc_pages() if not (html_dir / p).is_file()]
    assert not missing, f"pages in _toc.yml with no HTML: {missing}"
    built = {str(p.relative_to(html_dir)) for p in (html_dir / "book").glob("*.html")}
    extra = built - set(toc_pages())
    assert not extra, f"pages built but not in _toc.yml (not tested): {sorted(extra)}"


def test_vendored_scripts_are_in_the_build(html_dir):
    for path in ["_vendor/mathjax/tex-chtml.js", "_vendor/requirejs/require.js",
                 "_vendor/widgets-config.js", "_vendor/html-manager/embed-amd.js"]:
        assert (html_dir / path).is_file(), f"{path} missing from the build"
    assert not (html_dir / "_static" / "_vendor").exists()


# ---------------------------------------------------------------------------------------------
# Each page, in the browser.


@pytest.mark.parametrize("name", all_pages())
def test_page_loads_offline(visited, name):
    """No request leaves localhost, none fails, the console shows no error."""
    visit = visited(name)
    problems = _problems(visit)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)
    assert Path(visit.facts["screenshot"]).is_file()


@pytest.mark.parametrize("name", all_pages())
def test_no_accessibility_violations(visited, name):
    """axe-core finds no violation of the WCAG 2 A and AA rules (conftest.AXE_TAGS)."""
    found = visited(name).facts["axe"]
    assert not isinstance(found, str), found
    lines = [
        f"{v['id']} ({v['impact']}, {len(v['targets'])}x): {v['help']}\n      "
        + "\n      ".join(v["targets"])
        for v in found
    ]
    count = sum(len(v["targets"]) for v in found)
    assert not found, f"{name}: {count} WCAG violations\n  " + "\n  ".join(lines)


@pytest.mark.parametrize("name", all_pages())
def test_images_load(visited, name):
    broken = [img["src"] for img in visited(name).facts["images"]
              if not img["complete"] or img["width"] == 0]
    assert not broken, f"{name}: images that did not load: {broken}"


@pytest.mark.parametrize("name", toc_pages())
def test_math_is_typeset(visited, name):
    facts = visited(name).facts
    assert facts["math_typeset"] == facts["math"], (
        f"{name}: {facts['math'] - facts['math_typeset']} of {facts['math']} math elements "
        "not typeset by MathJax"
    )
    for raw in ("$$", "\\begin{", "\\(", "\\["):
        at = facts["text"].find(raw)
        assert at < 0, f"{name}: raw TeX {raw!r} in the text: ...{facts['text'][at-60:at+60]}..."


def test_math_pages_exist(visited):
    without = [name for name in MATH_PAGES if visited(name).facts["mjx"] == 0]
    assert not without, f"pages expected to show typeset math show none: {without}"


@pytest.mark.parametrize("name", toc_pages())
def test_widgets_draw(visited, name):
    facts = visited(name).facts
    if not facts["widget_views"]:
        return
    assert facts["widget_subareas"] >= facts["widget_views"], (
        f"{name}: {facts['widget_views']} widget views, "
        f"{facts['widget_subareas']} drawn"
    )
    models = set()
    for state in facts["widget_state"]:
        for model in json.loads(state)["state"].values():
            models.add(model.get("model_name"))
    if models & SLIDER_MODELS:
        assert facts["sliders_visible"] > 0, f"{name}: slider widgets not drawn"


def test_some_page_has_widgets(visited):
    with_widgets = [n for n in toc_pages() if visited(n).facts["widget_views"]]
    assert with_widgets, "no page of the book has ipywidgets output (expected at least one)"
    with_sliders = [n for n in with_widgets if visited(n).facts["sliders_visible"]]
    assert with_sliders, f"widget pages {with_widgets} draw no slider"


@pytest.mark.parametrize("name", notebook_pages())
def test_launch_buttons(visited, name):
    facts = visited(name).facts
    notebook = name.removesuffix(".html") + ".ipynb"
    binder = f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?urlpath=lab/tree/{notebook}"
    colab = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{notebook}"
    assert binder in facts["links"], f"{name}: no Binder link {binder}"
    assert colab in facts["links"], f"{name}: no Colab link {colab}"
    assert facts["launch_menu_visible"], f"{name}: the launch button is not shown"


@pytest.mark.parametrize("name", notebook_pages())
def test_install_cell_hidden(visited, name):
    facts = visited(name).facts
    assert INSTALL_CELL_MARKER not in facts["html"], (
        f"{name}: the Colab install cell shows in the HTML (tag it remove-cell)"
    )


def test_bibliography(visited):
    bib = (ROOT / "references.bib").read_text()
    keys = re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", bib)
    facts = visited("book/references.html").facts
    entries = re.findall(r'<div class="citation"[^>]*role="listitem"', facts["html"])
    assert len(entries) == len(keys), f"{len(keys)} entries in references.bib, {len(entries)} shown"
    assert "Kingma" in facts["text"]


# ---------------------------------------------------------------------------------------------
# The static latent explorer (chapter 10): moving a slider changes the picture.


def test_explorer_pages_exist(visited):
    without = [n for n in EXPLORER_PAGES if not visited(n).facts["explorers"]]
    assert not without, f"pages expected to hold a [data-vae-explorer] have none: {without}"


# The picture may be an <img> (the sprite sheet, cropped), a <canvas>, or a CSS background.
PICTURES = """el => Array.from(el.querySelectorAll("*")).filter(e =>
    e.tagName === "IMG" || e.tagName === "CANVAS" ||
    getComputedStyle(e).backgroundImage.startsWith("url("))"""
HAS_PICTURE = f"""el => ({PICTURES})(el).some(e =>
    e.tagName !== "IMG" || (e.complete && e.naturalWidth > 0))"""
# What decides what a picture shows: its source, crop and position, or its pixels.
PICTURE_STATE = f"""el => JSON.stringify(({PICTURES})(el).map(e => {{
    const cs = getComputedStyle(e);
    return [e.tagName, e.currentSrc || "", cs.objectPosition, cs.backgroundImage.length,
            cs.backgroundPosition, cs.transform, cs.clipPath, cs.marginLeft, cs.marginTop,
            cs.left, cs.top, cs.objectFit, e.getAttribute("width"), e.getAttribute("height"),
            e.tagName === "CANVAS" ? e.toDataURL() : ""];
}}))"""


def _picture_shots(explorer) -> list[bytes]:
    pictures = explorer.locator("img, canvas, *")
    shots = []
    for k in range(pictures.count()):
        item = pictures.nth(k)
        if item.evaluate(
            "e => e.tagName === 'IMG' || e.tagName === 'CANVAS' ||"
            " getComputedStyle(e).backgroundImage.startsWith('url(')"
        ):
            shots.append(item.screenshot())
    return shots


@pytest.mark.parametrize("name", toc_pages())
def test_explorer_slider_changes_image(visited, open_page, name):
    if not visited(name).facts["explorers"]:
        return
    page, visit = open_page(name)
    try:
        explorers = page.locator("[data-vae-explorer]")
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            explorer.scroll_into_view_if_needed()
            assert explorer.evaluate(HAS_PICTURE), f"{name}: explorer {i} shows no image"
            sliders = explorer.locator("input[type=range]")
            assert sliders.count(), f"{name}: explorer {i} has no range input"
            for j in range(sliders.count()):
                slider = sliders.nth(j)
                assert slider.is_visible(), f"{name}: explorer {i} slider {j} hidden"
                before_state = explorer.evaluate(PICTURE_STATE)
                before_shots = _picture_shots(explorer)
                before_cell = explorer.get_attribute("data-cell")
                start = slider.input_value()
                slider.focus()
                page.keyboard.press("End")
                if slider.input_value() == start:
                    page.keyboard.press("Home")
                assert slider.input_value() != start, f"{name}: slider {j} does not move"
                page.wait_for_timeout(200)
                after_state = explorer.evaluate(PICTURE_STATE)
                after_shots = _picture_shots(explorer)
                assert before_state != after_state and before_shots != after_shots, (
                    f"{name}: moving slider {j} of explorer {i} left its image unchanged"
                )
                cell = explorer.get_attribute("data-cell")  # vae_lib.widgets' explorer has it
                if cell is not None:
                    assert cell != before_cell, f"{name}: data-cell stayed {cell}"
        assert not _problems(visit), _problems(visit)
    finally:
        page.context.close()


# The keyboard alone works it: the picture takes the focus, shows it, and the arrow keys move the
# point (left/right: the first slider's index, down/up: the second's), as the sliders do.
FOCUS_SHOWN = """e => e === document.activeElement && getComputedStyle(e).outlineStyle !== "none"
    && parseFloat(getComputedStyle(e).outlineWidth) > 0"""
ARROWS = [("ArrowRight", (1, 0)), ("ArrowUp", (1, 1)), ("ArrowLeft", (0, 1)), ("ArrowDown", (0, 0))]


def _cell(explorer) -> tuple[int, int]:
    i, j = explorer.get_attribute("data-cell").split(",")
    return int(i), int(j)


@pytest.mark.parametrize("name", EXPLORER_PAGES)
def test_explorer_works_from_the_keyboard(open_page, name):
    page, visit = open_page(name)
    try:
        explorers = page.locator("[data-vae-explorer]")
        assert explorers.count(), f"{name}: no explorer"
        for k in range(explorers.count()):
            explorer = explorers.nth(k)
            view = explorer.locator("[role=img]")
            sliders = explorer.locator("input[type=range]")
            assert view.count() == 1, f"{name}: explorer {k} has no single picture"
            view.focus()
            assert view.evaluate(FOCUS_SHOWN), f"{name}: explorer {k}: the focus is not shown"
            page.keyboard.press("Tab")  # the sliders come next in the tab order, then back
            assert sliders.first.evaluate(FOCUS_SHOWN), f"{name}: explorer {k}: Tab, no slider"
            page.keyboard.press("Shift+Tab")
            assert view.evaluate(FOCUS_SHOWN), f"{name}: explorer {k}: Shift+Tab lost it"
            i0, j0 = _cell(explorer)
            for key, (di, dj) in ARROWS:
                label, state = view.get_attribute("aria-label"), explorer.evaluate(PICTURE_STATE)
                before = _cell(explorer)
                page.keyboard.press(key)
                cell = _cell(explorer)
                assert cell == (i0 + di, j0 + dj), f"{name}: {key} went {before} -> {cell}"
                assert [int(sliders.nth(m).input_value()) for m in (0, 1)] == list(cell)
                assert view.get_attribute("aria-label") != label, f"{name}: {key}: same label"
                assert explorer.evaluate(PICTURE_STATE) != state, f"{name}: {key}: same picture"
        assert not _problems(visit), _problems(visit)
    finally:
        page.context.close()


# ---------------------------------------------------------------------------------------------
# Links between pages resolve (files and #anchors), including citations to the bibliography.


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def test_internal_links_resolve(html_dir):
    parsed: dict[Path, _Anchors] = {}

    def parse(path: Path) -> _Anchors:
        if path not in parsed:
            parser = _Anchors()
            parser.feed(path.read_text(encoding="utf-8"))
            parsed[path] = parser
        return parsed[path]

    broken = []
    for name in all_pages():
        page = html_dir / name
        for href in parse(page).hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{name}: {href}")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in parse(target).ids:
                    broken.append(f"{name}: {href} (no such anchor)")
    assert not broken, "broken links:\n  " + "\n  ".join(broken)


# ---------------------------------------------------------------------------------------------
# Page polish: what a reader sees at 1280 px, in dark mode and on a phone.


@pytest.mark.parametrize("name", all_pages())
def test_no_nbval_marker_is_shown(visited, name):
    assert "NBVAL_CHECK_OUTPUT" not in visited(name).facts["html"]


@pytest.mark.parametrize("name", notebook_pages())
def test_code_cells_fit_the_column(visited, name):
    wide = visited(name).facts["wide_code"]
    assert not wide, f"{len(wide)} code cells scroll sideways at 1280 px, starting: {wide[:3]}"


@pytest.mark.parametrize("name", notebook_pages())
def test_figures_are_not_shrunk_to_illegibility(visited, name):
    shrunk = visited(name).facts["shrunk_figures"]
    assert not shrunk, f"figures drawn too small: {shrunk}"


def test_live_explorers_say_they_need_a_kernel(visited):
    facts = visited("book/10_latent_space.html").facts
    assert facts["live_explorers"] >= 1
    assert facts["kernel_notes"] == facts["live_explorers"]


def test_references_carry_author_year_labels(visited):
    labels = visited("book/references.html").facts["reference_labels"]
    assert labels, "no labels in the bibliography"
    pattern = re.compile(r"^\[?[A-Z][^,\]]+(?: and [^,\]]+| et al\.)?, (\d{4}|n\.d\.)[a-z]?\]?$")
    odd = [label for label in labels if not pattern.match(label)]
    assert not odd, f"labels not in author-year form: {odd}"
    assert any(label.strip("[]") == "Kingma and Welling, 2013" for label in labels), labels


DARK_PAGES = ["book/09_conv_vae.html", "book/10_latent_space.html", "book/11_beta_vae.html"]


@pytest.mark.parametrize("name", DARK_PAGES)
def test_dark_mode_is_readable(browser, server, name):
    """In dark mode: no axe violation (colour contrast included) and no light output boxes."""
    from .conftest import audit

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script("localStorage.setItem('mode', 'dark');"
                            " localStorage.setItem('theme', 'dark');")
    page = context.new_page()
    try:
        page.goto(server + name, wait_until="load", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        violations = audit(page)
        assert violations == [], json.dumps(violations, indent=1)[:2000]
        light = page.evaluate("""() => Array.from(document.querySelectorAll(
                "div.cell_output .output, div.cell_output .widget-subarea, div.cell_output table"))
            .map(el => getComputedStyle(el).backgroundColor)
            .filter(c => { const v = (c.match(/[\\d.]+/g) || []).map(Number);
                           return v.length >= 3 && (v.length < 4 || v[3] > 0.5)
                                  && (v[0] + v[1] + v[2]) / 3 > 160; })""")
        assert not light, f"light boxes in dark mode: {light[:5]}"
    finally:
        context.close()


def test_a_phone_can_use_the_explorers(browser, server):
    context = browser.new_context(viewport={"width": 400, "height": 800})
    page = context.new_page()
    try:
        page.goto(server + "book/10_latent_space.html", wait_until="load", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('.widget-slider').length > 0",
                               timeout=30_000)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 401, f"the page is {overflow} px wide on a 400 px screen"
        cut = page.evaluate("""() => Array.from(document.querySelectorAll(
                ".widget-slider, [data-vae-explorer] input"))
            .filter(el => { const r = el.getBoundingClientRect();
                            return r.width > 0 && (r.left < 0 || r.right > innerWidth + 1); })
            .length""")
        assert cut == 0, f"{cut} sliders reach past the screen's edge"
    finally:
        context.close()
