"""The latent explorer in a live kernel: JupyterLab on localhost runs chapter 10, a slider moves.

The static book cannot show this (it has no kernel), and Binder or Colab cannot be reached from
the test machine, so the test starts the project's own JupyterLab, runs every cell of the
latent-space chapter at the quick setting, drags the first live slider with the mouse and
waits for the decoded picture to change. Nothing outside localhost is contacted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import _is_local

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "10_latent_space.ipynb"
TOKEN = "vae-book-live-test"
SHOTS = ROOT / "_build" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on the book's folder, its app object exposed to the page."""
    port = _free_port()
    env = {**os.environ, "VAE_QUICK": "1", "OMP_NUM_THREADS": "1",
           "JUPYTER_CONFIG_DIR": str(tmp_path_factory.mktemp("jupyter-config"))}
    log = (tmp_path_factory.mktemp("lab") / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT / 'book'}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
         "--LabServerApp.extension_manager=readonly", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start; see {log.name}", pytrace=False)
            time.sleep(0.5)
    yield url
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def test_a_live_slider_redraws_the_decoded_image(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                  else route.abort("blockedbyclient"))
    page = context.new_page()
    try:
        page.goto(f"{lab}/lab/tree/{CHAPTER}?token={TOKEN}", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')",
                               timeout=120_000)
        page.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget;"
            " return w && w.sessionContext && w.sessionContext.session"
            " && w.sessionContext.session.kernel; }", timeout=120_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # Slider messages queue behind running cells: wait until every code cell has run.
        page.wait_for_function(
            """() => {
                const panel = window.jupyterapp.shell.currentWidget;
                const cells = panel.content.widgets.filter(c => c.model.type === "code");
                return cells.length > 0
                    && cells.every(c => c.model.executionCount !== null)
                    && panel.sessionContext.session.kernel.status === "idle";
            }""",
            timeout=300_000, polling=500)
        explorer = page.locator(".jp-OutputArea-output .widget-hbox", has=page.locator("img"),
                                has_text="z1").first
        explorer.wait_for(state="visible", timeout=60_000)
        image = explorer.locator("img").first
        before = image.get_attribute("src")
        handle = explorer.locator(".noUi-handle, .ui-slider-handle").first
        # The notebook scrolls in its own (windowed) panel: scroll it to the explorer's cell.
        page.evaluate(
            """async () => {
                const notebook = window.jupyterapp.shell.currentWidget.content;
                const index = notebook.widgets.findIndex(
                    c => c.model.sharedModel.getSource().startsWith("LatentExplorer("));
                notebook.activeCellIndex = index;
                await notebook.scrollToItem(index, "start");
            }""")
        page.wait_for_timeout(1000)  # let the layout settle before measuring the handle
        box = handle.bounding_box()
        assert 0 < box["y"] < 1000, f"the slider is off screen: {box}"
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        try:
            page.wait_for_function(
                "([img, old]) => img.getAttribute('src') !== old",
                arg=[image.element_handle(), before], timeout=30_000,
            )
        finally:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "live-kernel.png"))
        assert image.get_attribute("src") != before
    finally:
        context.close()
