"""Redraw time of the book's in-page explorers, measured in Chromium on the built pages.

Every explorer decodes in the page (vae_lib/display/explorer.js) at every slider move or drag.
This script opens each page with explorers from disk (file://, every other request blocked, as a
reader offline would), and for each explorer moves its first slider, or drags its pad's ring,
`--moves` times, timing each move from the input event to the picture drawn (the handler runs
the decoder and puts the pixels into the canvas synchronously). It also times the decoder alone
and prints the weights each explorer carries.

    python benchmarks/explorer_latency.py [--html _build/test/_build/html] [--moves 300]

Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), headless, as in tests/browser.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["book/09_conv_vae.html", "book/10_latent_space.html", "book/11_beta_vae.html"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio"]

# Runs in the page: n moves of one explorer, each timed from the event to the drawn picture.
MOVES = """([root, n]) => {
    const cfg = JSON.parse(root.querySelector("script.vae-x-model").textContent);
    const times = [], decode = [];
    if (cfg.kind === "pad") {
        const pad = root.querySelector(".vae-x-pad"), r = pad.getBoundingClientRect();
        const at = (k, type) => new PointerEvent(type, {bubbles: true, pointerId: 1,
            clientX: r.left + r.width * ((k * 0.137) % 1),
            clientY: r.top + r.height * ((k * 0.291) % 1)});
        pad.dispatchEvent(at(0, "pointerdown"));
        for (let k = 1; k <= n; k++) {
            const event = at(k, "pointermove"), t0 = performance.now();
            pad.dispatchEvent(event);
            times.push(performance.now() - t0);
        }
        pad.dispatchEvent(at(n, "pointerup"));
    } else {
        const s = root.querySelector("input[type=range]");
        const lo = Number(s.min), step = Number(s.step);
        const count = Math.round((Number(s.max) - lo) / step);
        for (let k = 0; k < n; k++) {
            s.value = String(lo + ((k * 37) % (count + 1)) * step);
            const t0 = performance.now();
            s.dispatchEvent(new Event("input", {bubbles: true}));
            times.push(performance.now() - t0);
        }
    }
    const z = Float64Array.from(cfg.start);
    for (let k = 0; k < n; k++) {
        z[0] = -cfg.span + (k % 50) * cfg.span / 25;
        const t0 = performance.now();
        root.vaeDecoder.run(z);
        decode.push(performance.now() - t0);
    }
    const layers = cfg.decoder.layers;
    return {kind: cfg.kind, latent: cfg.decoder.latent, times: times, decode: decode,
            dtype: cfg.decoder.dtype, shape: cfg.decoder.shape,
            dense: layers.filter(l => l.op === "linear").map(l => l.out),
            conv: layers.filter(l => l.op === "convT").map((l, k) => k ? [l.cout] : [l.cin, l.cout])
                  .flat(),
            weights: layers.reduce((sum, l) => sum + (l.w ? l.w.length + l.b.length : 0), 0)};
}"""


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"{statistics.median(ordered):6.2f} {p95:6.2f} {ordered[-1]:6.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", default=os.environ.get("BOOK_HTML", "_build/test/_build/html"))
    parser.add_argument("--moves", type=int, default=300)
    args = parser.parse_args()
    html = (ROOT / args.html).resolve()
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; Chromium at"
          f" {chromium}; {args.moves} moves per explorer; times in ms (median, p95, max)")
    print(f"{'page':<22} {'kind':<8} {'decoder':<42} {'weights':>12}"
          f" {'move: med   p95    max':>22} {'decode only: med':>17}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(("file:", "data:", "blob:"))
                      else route.abort("blockedbyclient"))
        for name in PAGES:
            page = context.new_page()
            page.goto((html / name).as_uri(), wait_until="load", timeout=120_000)
            roots = page.locator("[data-vae-explorer]")
            for i in range(roots.count()):
                root = roots.nth(i)
                root.scroll_into_view_if_needed()
                r = root.evaluate("(root, n) => (" + MOVES + ")([root, n])", args.moves)
                decoder = f"Linear {'-'.join(map(str, [r['latent'], *r['dense']]))}"
                if r["conv"]:
                    decoder += f", ConvT {'-'.join(map(str, r['conv']))}"
                decoder += f", {r['dtype']}"
                size = f"{r['weights'] / 1e6:.2f} MB"
                print(f"{Path(name).stem[:22]:<22} {r['kind']:<8} {decoder:<42} {size:>12}"
                      f"  {_summary(r['times'])}  {statistics.median(r['decode']):8.2f}")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
