"""Pin the outputs of `# NBVAL_CHECK_OUTPUT` cells, and store no other output.

nbval compares a cell's fresh output with the stored one only when the cell was stored
executed. This script runs each notebook (use VAE_QUICK=1, as `make pin` does), keeps the
text outputs of the cells marked `# NBVAL_CHECK_OUTPUT` with an execution count, and clears
every other cell, so the notebooks stay small while their exact checks become real.

    VAE_QUICK=1 python scripts/pin_outputs.py book/*.ipynb
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"
TEXT_TYPES = ("text/plain", "text/latex")


def is_pinned(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARK)


def text_only(output):
    """Keep streams and the plain-text/LaTeX parts of results; drop images and HTML."""
    if output.output_type == "stream":
        return output
    if output.output_type in ("execute_result", "display_data"):
        data = {k: v for k, v in output.get("data", {}).items() if k in TEXT_TYPES}
        if data:
            output["data"] = data
            output["metadata"] = {}
            return output
    return None


def pin(path: Path) -> int:
    notebook = nbformat.read(path, as_version=4)
    metadata = dict(notebook.metadata)  # execution rewrites language_info; keep the stored one
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(notebook, timeout=-1, record_timing=False, resources=resources).execute()
    pinned = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if is_pinned(cell):
            cell.outputs = [o for o in map(text_only, cell.outputs) if o is not None]
            cell.execution_count = 1
            pinned += 1
        else:
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata = nbformat.from_dict(metadata)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".ipynb.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(notebook, f)
    os.replace(tmp, path)
    return pinned


def main(paths: list[str]) -> None:
    if not os.environ.get("VAE_QUICK"):
        sys.exit("pin_outputs: set VAE_QUICK=1 (nbval runs the quick setting)")
    for name in paths:
        print(f"{name}: {pin(Path(name))} pinned cells", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
