"""Page polish the browser tests check: author-year reference labels, no nbval markers shown.

* The bibliography lists each work under an author-year label ("Kingma and Welling, 2013"),
  the same style as the citations in the text (`bibtex_reference_style: author_year`); pybtex's
  default labels are alphabetic ("[KW13]"). `_config.yml` picks the style: `authoryear`.
* `# NBVAL_CHECK_OUTPUT` marks the cells whose output nbval compares (CONTRIBUTING.md). It
  stays in the notebooks and is taken out of the rendered code: readers need not see it.
"""

from __future__ import annotations

import re

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx

NBVAL_MARKER = re.compile(r'<span class="c1">#\s*NBVAL_CHECK_OUTPUT</span>\n?')


def _surnames(entry) -> list[str]:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(p.prelast_names + p.last_names) for p in people]
    return [name.replace("{", "").replace("}", "") for name in names]


def author_year(entry) -> str:
    """'Kingma and Welling, 2013', 'Burda et al., 2016', 'Rath, 2020': as the citations read."""
    names = _surnames(entry) or [entry.fields.get("title", entry.key)]
    who = names[0] if len(names) == 1 else (
        f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al."
    )
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels, made unique with a, b, ... where two works share one."""

    def format_labels(self, sorted_entries):
        labels = [author_year(entry) for entry in sorted_entries]
        for i, label in enumerate(labels):
            twins = [j for j, other in enumerate(labels) if other == label]
            yield label if len(twins) == 1 else f"{label}{'abcdefghij'[twins.index(i)]}"


class AuthorYearStyle(PlainStyle):
    """pybtex's plain style, sorted by author and year, with author-year labels."""

    default_label_style = "vae_authoryear"
    default_sorting_style = "author_year_title"


def hide_nbval_markers(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """html-page-context: drop the `# NBVAL_CHECK_OUTPUT` line from rendered code cells."""
    body = context.get("body")
    if isinstance(body, str):
        context["body"] = NBVAL_MARKER.sub("", body)


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.labels", "vae_authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    app.connect("html-page-context", hide_nbval_markers)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
