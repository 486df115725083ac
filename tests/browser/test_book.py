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
# the in-page latent explorers (tests/browser/test_explorers.py checks their pixels)
EXPLORER_PAGES = ["book/09_conv_vae.html", "book/10_latent_space.html", "book/11_beta_vae.html",
                  "book/12_aevb.html", "book/17_priors.html", "book/18_hierarchy.html",
                  "book/20_conditional_vae.html"]
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


def test_no_page_shows_an_explorer_that_needs_a_kernel(visited):
    """A live explorer's bundle also holds the in-page one, which the book shows instead: no
    page draws ipywidgets sliders beside a picture that cannot follow them, nor the old note."""
    for name in toc_pages():
        facts = visited(name).facts
        assert facts["live_explorers"] == 0 and facts["kernel_notes"] == 0, name
    assert all(visited(n).facts["explorers"] for n in EXPLORER_PAGES)


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
# The in-page latent explorers (chapters 9-11): moving a slider redraws the picture.


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
        explorers = page.locator('[data-vae-explorer][data-kind="sliders"]')
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            explorer.scroll_into_view_if_needed()
            assert explorer.evaluate(HAS_PICTURE), f"{name}: explorer {i} shows no image"
            sliders = explorer.locator("input[type=range]")
            assert sliders.count(), f"{name}: explorer {i} has no range input"
            changed = 0  # a unit the decoder ignores (chapter 11's beta = 8) may leave it as is
            for j in range(sliders.count()):
                slider = sliders.nth(j)
                assert slider.is_visible(), f"{name}: explorer {i} slider {j} hidden"
                before_state = explorer.evaluate(PICTURE_STATE)
                before_shots = _picture_shots(explorer)
                before_code = explorer.get_attribute("data-z")
                before_label = explorer.locator("canvas").first.get_attribute("aria-label")
                start = slider.input_value()
                slider.focus()
                page.keyboard.press("End")
                if slider.input_value() == start:
                    page.keyboard.press("Home")
                assert slider.input_value() != start, f"{name}: slider {j} does not move"
                page.wait_for_timeout(50)
                assert explorer.get_attribute("data-z") != before_code, f"{name}: slider {j}"
                label = explorer.locator("canvas").first.get_attribute("aria-label")
                assert label != before_label, f"{name}: slider {j}: the text alternative stayed"
                after_state = explorer.evaluate(PICTURE_STATE)
                changed += before_state != after_state and before_shots != _picture_shots(explorer)
            assert changed >= min(2, sliders.count()), (
                f"{name}: explorer {i}: only {changed} sliders changed the picture")
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


# Check cells (tagged hide-input, CONTRIBUTING.md) are collapsed, so the test above does not see
# them; a reader who opens one must not have to scroll it sideways either.
OPEN_ALL_CODE = """() => {
    document.querySelectorAll("details").forEach(d => { d.open = true; });
    return Array.from(document.querySelectorAll("div.cell_input pre"))
        .filter(pre => pre.scrollWidth > pre.clientWidth + 2)
        .map(pre => pre.textContent.split("\\n")[0]);
}"""


@pytest.mark.parametrize("name", notebook_pages())
def test_opened_check_cells_fit_the_column(open_page, name):
    page, _ = open_page(name)
    try:
        wide = page.evaluate(OPEN_ALL_CODE)
        assert not wide, f"{len(wide)} code cells scroll sideways once opened: {wide[:3]}"
    finally:
        page.context.close()


@pytest.mark.parametrize("name", notebook_pages())
def test_figures_are_not_shrunk_to_illegibility(visited, name):
    shrunk = visited(name).facts["shrunk_figures"]
    assert not shrunk, f"figures drawn too small: {shrunk}"


def test_references_carry_author_year_labels(visited):
    labels = visited("book/references.html").facts["reference_labels"]
    assert labels, "no labels in the bibliography"
    particle = r"(?:(?:van|von|den|der|de|du|la|le) )*"  # "van den Oord et al., 2017"
    pattern = re.compile(
        rf"^\[?{particle}[A-Z][^,\]]+(?: and [^,\]]+| et al\.)?, (\d{{4}}|n\.d\.)[a-z]?\]?$")
    odd = [label for label in labels if not pattern.match(label)]
    assert not odd, f"labels not in author-year form: {odd}"
    assert any(label.strip("[]") == "Kingma and Welling, 2013" for label in labels), labels


DARK_PAGES = ["book/09_conv_vae.html", "book/10_latent_space.html", "book/11_beta_vae.html",
              "book/12_aevb.html", "book/17_priors.html", "book/18_hierarchy.html",
              "book/20_conditional_vae.html"]


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


@pytest.mark.parametrize("name", EXPLORER_PAGES)
def test_a_phone_can_use_the_explorers(browser, server, name):
    context = browser.new_context(viewport={"width": 400, "height": 800}, has_touch=True)
    page = context.new_page()
    try:
        page.goto(server + name, wait_until="load", timeout=60_000)
        page.wait_for_load_state("networkidle", timeout=60_000)
        assert page.locator("[data-vae-explorer]").count() > 0
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 401, f"{name}: the page is {overflow} px wide on a 400 px screen"
        cut = page.evaluate("""() => Array.from(document.querySelectorAll(
                "[data-vae-explorer] input, [data-vae-explorer] canvas, .vae-x-pad"))
            .filter(el => { const r = el.getBoundingClientRect();
                            return r.width > 0 && (r.left < 0 || r.right > innerWidth + 1); })
            .length""")
        assert cut == 0, f"{name}: {cut} sliders or pictures reach past the screen's edge"
        roots = page.locator('[data-vae-explorer][data-kind="pad"]')
        for i in range(roots.count()):  # a finger on the pad moves the ring
            root = roots.nth(i)
            pad = root.locator(".vae-x-pad")
            pad.scroll_into_view_if_needed()
            before = root.get_attribute("data-z")
            box = pad.bounding_box()
            page.touchscreen.tap(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.3)
            assert root.get_attribute("data-z") != before, f"{name}: pad {i} ignored a tap"
    finally:
        context.close()
