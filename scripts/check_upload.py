"""Check a built book folder before it is published: what GitHub Pages would serve.

The deploy uploads the whole folder, so what is missing there is missing online and what is
extra is public: an .html page for every file in _toc.yml, `index.html`, `_vendor/` with each
script that _config.yml points the pages at (the pages load nothing from the network), and no
`reports/` (a failed chapter's traceback, with the builder's paths). `make book`, `make test`
(on the strict test build) and the workflow before its upload run it.

    python scripts/check_upload.py [_build/html] [--toc _toc.yml] [--config _config.yml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

SOURCE_SUFFIXES = (".md", ".ipynb", ".rst")


def toc_files(toc: dict) -> list[str]:
    """Every `file:` of a jb-book toc, the root first: parts, chapters, sections, any depth."""
    files = [toc["root"]]

    def walk(entries: list | None) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key))

    walk([toc])
    return files


def page_for(file: str) -> str:
    """The page Sphinx writes for a toc entry: 'book/05_elbo' -> 'book/05_elbo.html'."""
    for suffix in SOURCE_SUFFIXES:
        file = file.removesuffix(suffix)
    return f"{file}.html"


def vendored_assets(config: dict) -> list[str]:
    """The `_vendor/` files the pages load, from the `../_vendor/...` paths in _config.yml."""
    settings = (config.get("sphinx") or {}).get("config") or {}
    paths = [settings.get("mathjax_path") or "", *(settings.get("nb_ipywidgets_js") or {})]
    return [p.removeprefix("../") for p in paths if p.startswith("../_vendor/")]


def problems(html: Path, toc: dict, config: dict) -> list[str]:
    """One line per thing the upload would get wrong; empty when the folder is fit to publish."""
    if not html.is_dir():
        return ["no such folder (build the book first)"]
    found = [f"missing page: {page} (listed in the toc)"
             for page in ["index.html", *map(page_for, toc_files(toc))]
             if not (html / page).is_file()]
    vendor = html / "_vendor"
    if not vendor.is_dir() or not any(vendor.iterdir()):
        found.append("missing _vendor/: the pages would fetch MathJax and the widgets from nowhere")
    else:
        found += [f"missing {asset} (named in _config.yml)"
                  for asset in vendored_assets(config) if not (html / asset).is_file()]
    reports = html / "reports"
    if reports.exists():
        logs = ", ".join(sorted(p.name for p in reports.rglob("*.err.log"))) or "no logs"
        found.append(f"reports/ present ({logs}): a chapter failed to execute, and its traceback "
                     f"would be published; fix it and rebuild, or remove {reports} if it is stale")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default="_build/html", type=Path)
    parser.add_argument("--toc", default="_toc.yml", type=Path)
    parser.add_argument("--config", default="_config.yml", type=Path)
    args = parser.parse_args(argv)
    toc = yaml.safe_load(args.toc.read_text())
    config = yaml.safe_load(args.config.read_text())
    found = problems(args.html, toc, config)
    for line in found:
        print(f"{args.html}: {line}")
    if found:
        return 1
    pages = len(toc_files(toc)) + 1
    print(f"{args.html}: fit to publish: {pages} pages, _vendor/ with "
          f"{len(vendored_assets(config))} named scripts, no reports/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
