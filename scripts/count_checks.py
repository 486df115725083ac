"""Count the checks in the chapters: `assert` statements and `glue(` calls in code cells.

A check moved out of a teaching cell into a collapsed check cell must not be lost, so the
totals before and after a move must match; the "shown" columns count what sits in cells the
reader sees opened on the page (no `hide-input`, `hide-cell`, `remove-input` or `remove-cell`
tag), which must be zero in the experiment chapters (8 onward).

    python scripts/count_checks.py [book/*.ipynb]      # one line per chapter, then the total
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat

HIDDEN_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
GLUE_RE = re.compile(r"(?<![\w.])glue\(")
ASSERT_RE = re.compile(r"^\s*assert\b", re.M)


def is_hidden(cell) -> bool:
    return bool(HIDDEN_TAGS & set(cell.metadata.get("tags", [])))


def python_only(source: str) -> str:
    """Blank out IPython magics and shell lines so the cell parses as Python."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def count_cell(source: str) -> tuple[int, int]:
    """(asserts, glue calls) in one cell's source."""
    code = python_only(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return len(ASSERT_RE.findall(code)), len(GLUE_RE.findall(code))
    asserts = sum(isinstance(node, ast.Assert) for node in ast.walk(tree))
    glues = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            glues += name == "glue"
    return asserts, glues


def count_notebook(path: Path) -> dict[str, int]:
    nb = nbformat.read(path, as_version=4)
    counts = dict.fromkeys(("assert", "glue", "shown_assert", "shown_glue"), 0)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        asserts, glues = count_cell(cell.source)
        counts["assert"] += asserts
        counts["glue"] += glues
        if not is_hidden(cell):
            counts["shown_assert"] += asserts
            counts["shown_glue"] += glues
    return counts


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    paths = [Path(p) for p in argv] or sorted((root / "book").glob("*.ipynb"))
    header = f"{'chapter':<36}{'assert':>8}{'glue':>6}{'shown assert':>14}{'shown glue':>12}"
    print(header)
    total = dict.fromkeys(("assert", "glue", "shown_assert", "shown_glue"), 0)
    for path in paths:
        c = count_notebook(path)
        for key in total:
            total[key] += c[key]
        print(
            f"{path.name:<36}{c['assert']:>8}{c['glue']:>6}{c['shown_assert']:>14}{c['shown_glue']:>12}"
        )
    t = total
    print(
        f"{'total':<36}{t['assert']:>8}{t['glue']:>6}{t['shown_assert']:>14}{t['shown_glue']:>12}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
