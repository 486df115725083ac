"""The chapter notebooks follow CONTRIBUTING.md: Colab install cell first and hidden, no outputs
except the pinned ones.

The book build and nbval execute the notebooks, so stored outputs would only be stale copies.
The exception is a cell marked `# NBVAL_CHECK_OUTPUT`: nbval compares its fresh output with the
stored one, so it must be stored executed, with text output (`make pin` writes them). The first
cell installs vae_lib where it is missing (Colab) and is tagged `remove-cell` so the HTML does
not show it (tests/browser checks the built pages too).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
_SPEC = importlib.util.spec_from_file_location("install_cell", ROOT / "scripts/install_cell.py")
install_cell = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(install_cell)


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks under {BOOK}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_cell_installs_vae_lib_and_is_hidden(path):
    cells = _load(path)["cells"]
    assert cells, f"{path.name} has no cells"
    first = cells[0]
    assert first["cell_type"] == "code", (
        f"{path.name}: the first cell must be the Colab install cell (CONTRIBUTING.md), "
        f"not a {first['cell_type']} cell"
    )
    assert _source(first) == install_cell.install_cell_source(), (
        f"{path.name}: the first cell must be the install cell; run python scripts/install_cell.py"
    )
    tags = first.get("metadata", {}).get("tags", [])
    assert "remove-cell" in tags, f"{path.name}: the install cell must be tagged remove-cell"


def test_the_repository_url_is_set_in_one_place():
    url = install_cell.repository_url()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["urls"]["Repository"] == url
    readme = (ROOT / "README.md").read_text()
    slug = url.removeprefix("https://github.com/")
    for badge in ("mybinder.org/v2/gh/", "colab.research.google.com/github/"):
        assert f"{badge}{slug}/" in readme, f"README's {badge} link does not point at {url}"


def _pinned(cell: dict) -> bool:
    return cell["cell_type"] == "code" and _source(cell).lstrip().startswith("# NBVAL_CHECK_OUTPUT")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_only_pinned_cells_store_outputs(path):
    cells = _load(path)["cells"]
    dirty = [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code"
        and not _pinned(cell)
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have stored outputs or an execution_count; "
        "clear them (`make pin` stores only the pinned cells)"
    )
    unpinned = [
        i
        for i, cell in enumerate(cells)
        if _pinned(cell) and (not cell.get("outputs") or cell.get("execution_count") is None)
    ]
    assert not unpinned, (
        f"{path.name}: # NBVAL_CHECK_OUTPUT cells {unpinned} have no stored output, so nbval"
        " would compare nothing; run `make pin`"
    )
    images = [
        i
        for i, cell in enumerate(cells)
        for out in cell.get("outputs", [])
        if set(out.get("data", {})) - {"text/plain", "text/latex"}
    ]
    assert not images, f"{path.name}: cells {images} store images or HTML; pinned output is text"


def test_every_notebook_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    files = set()

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.add(entry["file"])
            walk(entry.get("chapters"))
            walk(entry.get("sections"))

    data = yaml.safe_load(toc)
    files.add(data["root"])
    for part in data.get("parts", []):
        walk(part.get("chapters"))
    walk(data.get("chapters"))
    missing = [
        str(p.relative_to(ROOT))
        for p in NOTEBOOKS
        if str(p.relative_to(ROOT).with_suffix("")) not in files
    ]
    assert not missing, f"notebooks not in _toc.yml (the book would skip them): {missing}"


_COUNT_SPEC = importlib.util.spec_from_file_location(
    "count_checks", ROOT / "scripts/count_checks.py"
)
count_checks = importlib.util.module_from_spec(_COUNT_SPEC)
_COUNT_SPEC.loader.exec_module(count_checks)
EXPERIMENTS = [p for p in NOTEBOOKS if p.name[:2].isdigit() and int(p.name[:2]) >= 8]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=_ids(EXPERIMENTS))
def test_experiment_chapters_show_no_checks(path):
    """Chapters 8 onward keep their checks out of the code a reader learns from.

    An `assert` or a `glue(` call sits in a check cell after the teaching cell, tagged
    `hide-input` (collapsed on the page under its label) and opening with `# Check: ...`
    (CONTRIBUTING.md, rule 12). scripts/count_checks.py counts them, shown and hidden.
    """
    shown = []
    for i, cell in enumerate(_load(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        asserts, glues = count_checks.count_cell(_source(cell))
        if (asserts or glues) and not tags & count_checks.HIDDEN_TAGS:
            shown.append(f"cell {i}: {asserts} assert, {glues} glue")
    assert not shown, (
        f"{path.name}: shown code cells hold checks; move them to a hide-input check cell"
        f" after the teaching cell (CONTRIBUTING.md): {shown}"
    )


@pytest.mark.parametrize("path", EXPERIMENTS, ids=_ids(EXPERIMENTS))
def test_check_cells_say_what_they_check(path):
    """A check cell opens with `# Check: <what is checked>` and its toggle carries a label that
    says so (`mystnb.code_prompt_show`, "Check: ..."); a Markdown cell holding only a check's
    label (`(c12-check-faster)=`) comes right before a check cell.
    """
    cells = _load(path)["cells"]
    wrong = []
    for i, cell in enumerate(cells):
        source = _source(cell)
        if cell["cell_type"] == "markdown" and re.fullmatch(r"\(c\d\d-check-[\w-]+\)=\s*", source):
            after = cells[i + 1] if i + 1 < len(cells) else {}
            if "hide-input" not in after.get("metadata", {}).get("tags", []):
                wrong.append(f"cell {i}: the label {source.strip()} is not before a check cell")
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or "hide-input" not in tags:
            continue
        if not any(count_checks.count_cell(source)):
            continue  # an exercise's answers, say
        lines = [line for line in source.splitlines() if not line.startswith("# NBVAL_CHECK")]
        first = lines[0] if lines else ""
        shown = cell.get("metadata", {}).get("mystnb", {}).get("code_prompt_show", "")
        if not first.startswith("# Check: ") or not shown.startswith("Check: "):
            wrong.append(f"cell {i}: first line {first[:50]!r}, label {shown!r}")
    assert not wrong, f"{path.name} (CONTRIBUTING.md, rule 12): {wrong}"


CHECK_CELL_WIDTH = 77  # ruff's limit: _static/vae-book.css gives the box's padding back


@pytest.mark.parametrize("path", EXPERIMENTS, ids=_ids(EXPERIMENTS))
def test_check_cells_fit_their_box(path):
    """Code in a hide-input cell sits in a box two characters narrower than the column (77 at
    1280 px, book/ruff.toml): an opened check cell must not scroll sideways (CONTRIBUTING.md)."""
    wide = [
        f"cell {i}: {len(line)} characters: {line[:40]!r}"
        for i, cell in enumerate(_load(path)["cells"])
        if cell["cell_type"] == "code" and "hide-input" in cell.get("metadata", {}).get("tags", [])
        for line in _source(cell).splitlines()
        if len(line) > CHECK_CELL_WIDTH
    ]
    assert not wide, f"{path.name}: lines too long for a check cell: {wide}"
