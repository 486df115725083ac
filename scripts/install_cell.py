"""Write the install cell every chapter starts with, from the repository URL in _config.yml.

    python scripts/install_cell.py            # rewrite the first cell of every book/*.ipynb
    python scripts/install_cell.py --check    # exit 1 if a notebook's cell is out of date

_config.yml's `repository.url` is the one place the book's address is set: the launch
buttons read it, this script writes it into the notebooks, and pyproject.toml's
[project.urls] and the README's badges are checked against it by tests/test_notebooks.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

TEMPLATE = '''\
# Install the book's library where it is missing (Colab, your own Jupyter):
# from this checkout when the notebook sits in one, else from the repository.
import importlib.util
import subprocess
import sys
from pathlib import Path

if importlib.util.find_spec("vae_lib") is None:
    checkout = Path.cwd().parent
    if (checkout / "vae_lib").is_dir():
        source = ["-e", str(checkout)]
    else:
        source = ["vae_lib @ git+{url}"]
    print("installing", *source)
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "-q", *source]
    )'''


def repository_url() -> str:
    """The book's repository, as _config.yml gives it."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def install_cell_source() -> str:
    """The first cell's code for the repository in _config.yml."""
    return TEMPLATE.format(url=repository_url())


def main(check: bool) -> int:
    wanted = install_cell_source()
    stale = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        first = notebook["cells"][0]
        if "".join(first["source"]) == wanted:
            continue
        stale.append(path.name)
        if not check:
            lines = wanted.split("\n")
            first["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
            text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
            path.write_text(text, encoding="utf-8")
    if check and stale:
        print(f"out of date: {', '.join(stale)}; run python scripts/install_cell.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
