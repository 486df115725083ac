"""Repair markup that fails the WCAG 2 checks of the browser tests (axe-core), page by page.

The bibliography: docutils writes each citation as ``<div class="citation" role="doc-biblioentry">``
inside a ``<div role="list" class="citation-list">``. WAI-ARIA (DPUB-ARIA 1.1) deprecated
``doc-biblioentry``, and a list's children must be list items, so axe reports every entry
(aria-deprecated-role) and the list (aria-required-children). Each entry becomes
``role="listitem"``, what DPUB-ARIA recommends in its place.
"""

from __future__ import annotations

from sphinx.application import Sphinx

# (what docutils writes, what replaces it) in a page's body.
REPAIRS = [('role="doc-biblioentry"', 'role="listitem"')]


def repair_body(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """html-page-context: apply REPAIRS to the rendered body of the page."""
    body = context.get("body")
    if not isinstance(body, str):
        return
    for old, new in REPAIRS:
        body = body.replace(old, new)
    context["body"] = body


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", repair_body)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
