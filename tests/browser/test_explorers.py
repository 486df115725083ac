"""The book's in-page explorers, in Chromium: each decodes what torch decodes, with no kernel.

Every explorer carries its decoder (vae_lib.display.page_decoder) and runs it in the page. These
tests set codes through the page itself (slider values, a mouse dragging the pad's ring), read
the drawn pixels back from the canvas and compare them with torch's decoder output at the same
code, computed here from the trained model: the checkpoint in the run cache whose decoder has
the fingerprint the explorer names (`data-model`). They also check the size of the weights, the
time of a redraw (loosely: benchmarks/explorer_latency.py measures it), the keyboard, and the
pages opened from file:// with every request blocked.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from .conftest import ROOT, VIEWPORT, _is_local

# The pages with explorers, and how many of each kind they must hold. Chapter 18's explorer
# is not here: it decodes a `LayerDecoder` derived from a committed checkpoint, which no
# cached checkpoint fingerprints; `page_decoder` held its weights to `decode` when the page
# was built, and tests/browser/test_book.py checks that page for axe, dark mode and an explorer.
EXPLORERS = {
    "book/09_conv_vae.html": {"sliders": 1, "pad": 0},
    "book/10_latent_space.html": {"sliders": 2, "pad": 2},
    "book/11_beta_vae.html": {"sliders": 2, "pad": 0},
    "book/12_aevb.html": {"sliders": 0, "pad": 1},
    "book/17_priors.html": {"sliders": 0, "pad": 1},
    "book/20_conditional_vae.html": {"sliders": 1, "pad": 0},  # a label selector too
}
CODES = 24  # codes per explorer: the corners of the range first, then random ones
MAX_LEVELS = 1.0  # drawn grey level against 255 * torch's pixel: at most 1/255
MAX_WEIGHT_CHARS = 2_000_000  # the weights one explorer carries, base64 included
MAX_REDRAW_MS = 16.0  # one frame at 60 Hz; the benchmark reports the real figure

READ = """root => {
    const canvas = root.querySelector("canvas.vae-x-image");
    const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const grey = [];
    for (let i = 0; i < d.length; i += 4) grey.push(d[i]);
    return {z: root.getAttribute("data-z"), grey: grey, y: root.getAttribute("data-label"),
            label: canvas.getAttribute("aria-label")};
}"""
# Set every slider to a code (as a reader's input events would) and read the picture back.
SET_SLIDERS = """(root, codes) => {
    const sliders = Array.from(root.querySelectorAll("input[type=range]"));
    const read = """ + READ + """;
    return codes.map(code => {
        sliders.forEach((s, k) => {
            s.value = String(code[k]);
            s.dispatchEvent(new Event("input", {bubbles: true}));
        });
        return read(root);
    });
}"""
# Choose a label in the explorer's selector (as a reader's change event would).
SET_LABEL = """(root, y) => {
    const select = root.querySelector("select");
    select.value = String(y);
    select.dispatchEvent(new Event("change", {bubbles: true}));
    return root.getAttribute("data-label");
}"""
CONFIG = """root => {
    const cfg = JSON.parse(root.querySelector("script.vae-x-model").textContent);
    const layers = cfg.decoder.layers;
    return {kind: cfg.kind, span: cfg.span, step: cfg.step, dtype: cfg.decoder.dtype,
            ops: layers.map(l => l.op), model: root.getAttribute("data-model"),
            labels: cfg.decoder.labels || 0,
            weights: layers.reduce((n, l) => n + (l.w ? l.w.length + l.b.length : 0)
                                   + (l.lb ? l.lb.length : 0), 0)};
}"""
TIME_MOVES = """(root, n) => {
    const s = root.querySelector("input[type=range]");
    const lo = Number(s.min), step = Number(s.step);
    const count = Math.round((Number(s.max) - lo) / step);
    const times = [];
    for (let k = 0; k < n; k++) {
        s.value = String(lo + ((k * 37) % (count + 1)) * step);
        const t0 = performance.now();
        s.dispatchEvent(new Event("input", {bubbles: true}));
        times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b);
}"""


def _cache_dirs() -> list[Path]:
    import vae_lib.runs

    return [vae_lib.runs.cache_dir(), ROOT / ".cache" / "models"]


@pytest.fixture(scope="session")
def trained_models():
    """Decoder fingerprint -> the trained model, for every checkpoint in the run cache."""
    from vae_lib.checkpoint import CheckpointError, load_checkpoint
    from vae_lib.display.page_decoder import decoder_fingerprint

    found = {}
    for folder in _cache_dirs():
        for path in sorted(folder.glob("*.pt")) if folder.is_dir() else []:
            try:
                model, _ = load_checkpoint(path, "cpu")
                found.setdefault(decoder_fingerprint(model), model.eval())
            except (CheckpointError, ValueError, AttributeError, TypeError):
                continue
    return found


def _model_for(trained_models, fingerprint: str, name: str):
    model = trained_models.get(fingerprint)
    if model is None:
        pytest.fail(f"{name}: no checkpoint in {[str(d) for d in _cache_dirs()]} has the decoder"
                    f" {fingerprint} the page shows (set VAE_CACHE_DIR to the build's cache)",
                    pytrace=False)
    return model


def _slider_codes(latent: int, span: float, step: float, seed: int) -> list[list[float]]:
    count = round(2 * span / step)
    rng = random.Random(seed)
    codes = [[-span] * latent, [span] * latent, [span * (-1) ** j for j in range(latent)]]
    codes += [[round(-span + rng.randint(0, count) * step, 6) for _ in range(latent)]
              for _ in range(CODES - len(codes))]
    return codes


def _drag_pad(page, explorer, seed: int) -> list[dict]:
    """Drag the ring with the mouse to the pad's four corners (and past them), then around."""
    pad = explorer.locator(".vae-x-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    rng = random.Random(seed)
    left, top, right, bottom = box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]
    targets = [(left - 30, top - 30), (right + 30, top - 30), (right + 30, bottom + 30),
               (left - 30, bottom + 30)]
    targets += [(rng.uniform(left + 1, right - 1), rng.uniform(top + 1, bottom - 1))
                for _ in range(CODES - len(targets))]
    page.mouse.move(left + box["width"] / 2, top + box["height"] / 2)
    page.mouse.down()
    states = []
    for x, y in targets:
        page.mouse.move(x, y, steps=3)
        states.append(explorer.evaluate(READ))
    page.mouse.up()
    return states


def _max_level_error(model, states) -> float:
    codes = torch.tensor([[float(v) for v in s["z"].split(",")] for s in states])
    with torch.no_grad():
        if getattr(model, "n_labels", 0):  # a labelled decoder: the label each picture shows
            labels = torch.tensor([int(s["y"]) for s in states])
            expected = model.decode(codes, labels).flatten(1).double() * 255
        else:
            expected = model.decode(codes).flatten(1).double() * 255
    drawn = torch.tensor([s["grey"] for s in states], dtype=torch.float64)
    return (drawn - expected).abs().max().item()


def _explorers(page):
    roots = page.locator("[data-vae-explorer]")
    return [roots.nth(i) for i in range(roots.count())]


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_explorers_draw_what_torch_decodes(open_page, trained_models, name):
    page, _ = open_page(name)
    try:
        explorers = _explorers(page)
        kinds = [e.get_attribute("data-kind") for e in explorers]
        wanted = EXPLORERS[name]
        assert {k: kinds.count(k) for k in wanted} == wanted, f"{name}: explorers {kinds}"
        for i, explorer in enumerate(explorers):
            cfg = explorer.evaluate(CONFIG)
            model = _model_for(trained_models, cfg["model"], name)
            if cfg["kind"] == "sliders":
                codes = _slider_codes(int(model.latent_dim), cfg["span"], cfg["step"], seed=i)
                states = []
                for y in range(cfg["labels"]) or [None]:  # every label of a labelled one
                    if y is not None:
                        assert explorer.evaluate(SET_LABEL, y) == str(y), f"{name}: label {y}"
                    states += explorer.evaluate(SET_SLIDERS, codes)
                    assert y is None or all(s["y"] == str(y) for s in states[-len(codes):])
                shown = [[float(v) for v in s["z"].split(",")] for s in states]
                worst = max(abs(a - b) for row, code in zip(shown, codes * max(1, cfg["labels"]),
                                                            strict=True)
                            for a, b in zip(row, code, strict=True))
                assert worst < 1e-9, f"{name}: explorer {i}: data-z is not the code set"
            else:
                states = _drag_pad(page, explorer, seed=i)
                corners = [[float(v) for v in s["z"].split(",")] for s in states[:4]]
                span = cfg["span"]
                assert corners == [[-span, span], [span, span], [span, -span], [-span, -span]]
                assert len({s["z"] for s in states}) == len(states), "the ring did not follow"
            assert len({tuple(s["grey"]) for s in states}) > 1, f"{name}: one picture for all"
            error = _max_level_error(model, states)
            print(f"{name} explorer {i} ({cfg['kind']}, {cfg['dtype']}): {len(states)} codes,"
                  f" max error {error:.3f} grey levels")
            assert error <= MAX_LEVELS, f"{name}: explorer {i} is {error:.2f} levels from torch"
    finally:
        page.context.close()


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_explorer_weights_fit_the_budget_and_redraw_within_a_frame(open_page, name):
    page, _ = open_page(name)
    try:
        for i, explorer in enumerate(_explorers(page)):
            cfg = explorer.evaluate(CONFIG)
            assert cfg["weights"] <= MAX_WEIGHT_CHARS, f"{name}: explorer {i}: {cfg['weights']:,}"
            if cfg["kind"] != "sliders":
                continue
            times = explorer.evaluate(TIME_MOVES, 31)
            assert times[15] <= MAX_REDRAW_MS, f"{name}: explorer {i}: median {times[15]:.1f} ms"
    finally:
        page.context.close()


FOCUS_SHOWN = """e => e === document.activeElement && getComputedStyle(e).outlineStyle !== "none"
    && parseFloat(getComputedStyle(e).outlineWidth) > 0"""


def _z(explorer) -> list[float]:
    return [float(v) for v in explorer.get_attribute("data-z").split(",")]


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_explorers_work_from_the_keyboard(open_page, name):
    page, _ = open_page(name)
    try:
        for i, explorer in enumerate(_explorers(page)):
            cfg = explorer.evaluate(CONFIG)
            step = cfg["step"]
            target = explorer.locator(".vae-x-pad" if cfg["kind"] == "pad" else "canvas[tabindex]")
            assert target.count() == 1, f"{name}: explorer {i}: no single focusable picture"
            target.focus()
            assert target.evaluate(FOCUS_SHOWN), f"{name}: explorer {i}: the focus is not shown"
            if cfg["kind"] == "sliders":
                page.keyboard.press("Tab")  # the sliders come next, then back to the picture
                first = explorer.locator("input[type=range]").first
                assert first.evaluate(FOCUS_SHOWN), f"{name}: explorer {i}: Tab, no slider"
                page.keyboard.press("Shift+Tab")
                assert target.evaluate(FOCUS_SHOWN), f"{name}: explorer {i}: Shift+Tab lost it"
            if cfg["labels"]:  # the label selector: focused by Tab, moved by the arrow keys
                select = explorer.locator("select")
                select.focus()
                assert select.evaluate(FOCUS_SHOWN), f"{name}: explorer {i}: the selector"
                before = explorer.evaluate(READ)
                page.keyboard.press("ArrowDown" if before["y"] != str(cfg["labels"] - 1)
                                    else "ArrowUp")
                after = explorer.evaluate(READ)
                assert after["y"] != before["y"] and after["grey"] != before["grey"], (
                    f"{name}: explorer {i}: the keyboard did not change the label")
                target.focus()
            for key, unit, sign in [("ArrowRight", 0, 1), ("ArrowUp", 1, 1), ("ArrowLeft", 0, -1),
                                    ("ArrowDown", 1, -1)]:
                before, described = _z(explorer), explorer.evaluate(READ)["label"]
                if abs(before[unit] + sign * step) > cfg["span"] + 1e-9:
                    continue  # a start at the edge of the range: this key cannot move it
                page.keyboard.press(key)
                after = _z(explorer)
                moved = [round(a - b, 6) for a, b in zip(after, before, strict=True)]
                expected = [0.0] * len(before)
                expected[unit] = round(sign * step, 6)
                assert moved == expected, f"{name}: explorer {i}: {key} moved {moved}"
                assert explorer.evaluate(READ)["label"] != described, f"{name}: {key}: label"
    finally:
        page.context.close()


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_explorers_answer_from_disk_with_the_network_blocked(browser, html_dir, name):
    """Opened as file://, every other request refused: the sliders and the pad still decode."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    blocked, errors = [], []

    def route(route):
        url = route.request.url
        if url.startswith("file://") or (_is_local(url) and not url.startswith("http")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto((html_dir / name).as_uri(), wait_until="load", timeout=60_000)
        assert not blocked, f"{name} asked the network for {blocked[:3]}"
        explorers = _explorers(page)
        assert len(explorers) == sum(EXPLORERS[name].values())
        for i, explorer in enumerate(explorers):
            before = explorer.evaluate(READ)
            if explorer.get_attribute("data-kind") == "pad":
                after = _drag_pad(page, explorer, seed=7)[-1]
            else:
                slider = explorer.locator("input[type=range]").first
                slider.scroll_into_view_if_needed()
                slider.focus()
                page.keyboard.press("End" if _z(explorer)[0] < 0 else "Home")
                after = explorer.evaluate(READ)
            assert after["z"] != before["z"] and after["grey"] != before["grey"], (
                f"{name} from disk: explorer {i} did not answer")
            if after["y"] is not None:  # a labelled explorer: another label, another picture
                explorer.evaluate(SET_LABEL, (int(after["y"]) + 1) % 10)
                again = explorer.evaluate(READ)
                assert again["y"] != after["y"] and again["grey"] != after["grey"], (
                    f"{name} from disk: explorer {i} ignored its label")
        assert not errors, f"{name} from disk: {errors}"
    finally:
        context.close()


def test_explorer_pages_match_the_table(visited):
    for name, wanted in EXPLORERS.items():
        html = visited(name).facts["html"]
        kinds = json.dumps(sorted(wanted.items()))
        found = {kind: html.count(f'data-kind="{kind}"') for kind in wanted}
        assert found == wanted, f"{name}: {found}, expected {kinds}"
