"""Take docs/book-screenshot.png, the README's picture of the book, from a built book.

    .venv/bin/python docs/screenshot.py [PAGE [SELECTOR]]

PAGE defaults to the latent-space chapter and SELECTOR to its manifold section; the shot is one
1280x800 screen scrolled to it, in the Chromium the browser tests use (/usr/bin/chromium or
$CHROMIUM), from $BOOK_HTML (default _build/html), saved as a palette PNG to stay small.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import sys
import threading
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "book-screenshot.png"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def main(page_name: str = "book/10_latent_space.html", selector: str = "#the-learned-manifold"):
    html = ROOT / os.environ.get("BOOK_HTML", "_build/html")
    handler = functools.partial(_Quiet, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/{page_name}")
            page.wait_for_load_state("networkidle")
            page.evaluate("() => window.MathJax?.startup?.promise")
            if selector:
                page.locator(selector).first.evaluate(
                    "e => { const top = e.getBoundingClientRect().top + window.scrollY;"
                    " window.scrollTo(0, Math.max(0, top - 250)); }"
                )
                page.wait_for_timeout(500)
            png = page.screenshot()
            browser.close()
    finally:
        httpd.shutdown()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128, dither=0)
    image.save(OUT, optimize=True)
    print(f"{OUT}: {OUT.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(*sys.argv[1:])
