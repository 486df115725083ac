"""Make the built book work with no network: serve MathJax and the Jupyter widgets from the build.

MathJax 3, RequireJS and ``@jupyter-widgets/html-manager`` (with the Font Awesome icon font it
bundles) come from npm (``package.json`` / ``package-lock.json``; ``make`` runs ``npm ci``). This
extension copies them from ``node_modules/`` into ``<html>/_vendor/`` when the build finishes.
They are kept out of ``_static/`` on purpose: Jupyter Book links every file there into every
page, while MathJax belongs only on pages with math and the widget manager only on pages with
widgets. ``_config.yml`` points Sphinx at the copies:

* ``mathjax_path: ../_vendor/mathjax/tex-chtml.js``
* ``nb_ipywidgets_js``: ``../_vendor/requirejs/require.js``, ``../_vendor/widgets-config.js``,
  ``../_vendor/html-manager/embed-amd.js``

Sphinx joins a relative asset path to ``_static/``, so ``../_vendor/x.js`` becomes
``_static/../_vendor/x.js``, which the browser resolves to ``_vendor/x.js`` from any page depth.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
VENDOR_DIR = "_vendor"

# (folder or file under node_modules/, destination under _vendor/, names to leave out);
# each package.json goes along: it names the version and the license.
ASSETS = [
    ("mathjax/es5", "mathjax", ()),
    ("mathjax/LICENSE", "mathjax/LICENSE", ()),
    ("requirejs/require.js", "requirejs/require.js", ()),
    ("@jupyter-widgets/html-manager/dist", "html-manager", ("*.map",)),
    ("@jupyter-widgets/html-manager/package.json", "html-manager/package.json", ()),
    ("mathjax/package.json", "mathjax/package.json", ()),
    ("requirejs/package.json", "requirejs/package.json", ()),
]
LOCAL_FILES = [("widgets-config.js", "widgets-config.js")]


def _node_modules(app: Sphinx) -> Path:
    """node_modules/ of the repository root (the folder holding package.json)."""
    configured = app.config.vae_node_modules
    if configured:
        return Path(app.confdir, configured).resolve()
    for folder in [Path(app.confdir), *Path(app.confdir).resolve().parents]:
        if (folder / "package.json").is_file():
            return folder / "node_modules"
    return Path(app.confdir) / "node_modules"


def _check_installed(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    root = _node_modules(app)
    missing = [src for src, _, _ in ASSETS if not (root / src).exists()]
    if missing:
        raise ExtensionError(
            f"vae_offline: {', '.join(missing)} missing under {root}; "
            "run `npm ci` in the repository root (make book / make test do it)"
        )


def _copy(src: Path, dst: Path, ignore: tuple[str, ...]) -> None:
    if src.is_dir():
        shutil.copytree(
            src, dst, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(*ignore) if ignore else None,
        )
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def copy_vendor(app: Sphinx, exception: Exception | None) -> None:
    """build-finished: copy the vendored JavaScript into <html>/_vendor/."""
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    root = _node_modules(app)
    out = Path(app.outdir) / VENDOR_DIR
    for src, dst, ignore in ASSETS:
        _copy(root / src, out / dst, ignore)
    for src, dst in LOCAL_FILES:
        _copy(HERE / "vendor" / src, out / dst, ())
    logger.info(f"vae_offline: vendored JavaScript copied to {out}")


def dedupe_inline_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """html-page-context: drop repeated inline scripts from the page.

    sphinx-thebe 0.3 and sphinx-togglebutton register their inline settings once as filename
    None and once as '' (Sphinx tells those apart), so the page declares ``const THEBE_JS_URL``
    twice and the browser reports a SyntaxError on every page.
    """
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, kept = set(), []
    for script in scripts:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def setup(app: Sphinx) -> dict:
    app.add_config_value("vae_node_modules", "", "env")
    app.connect("builder-inited", _check_installed)
    app.connect("html-page-context", dedupe_inline_scripts, priority=900)
    app.connect("build-finished", copy_vendor)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
