"""What the Pages deploy would upload is checked first (scripts/check_upload.py).

A fake built folder and toc stand in for a real build: the checker passes a complete one and
names each problem that would publish a broken or leaky site.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_upload.py"
spec = importlib.util.spec_from_file_location("check_upload", SCRIPT)
check_upload = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_upload)

TOC = {"format": "jb-book", "root": "book/intro",
       "parts": [{"caption": "One", "chapters": [
           {"file": "book/a", "sections": [{"file": "book/a_more.md"}]},
           {"file": "book/b.ipynb"}]}]}
CONFIG = {"sphinx": {"config": {"mathjax_path": "../_vendor/mathjax/tex-chtml.js",
                                "nb_ipywidgets_js": {"../_vendor/require.js": {}}}}}
PAGES = ["index.html", "book/intro.html", "book/a.html", "book/a_more.html", "book/b.html"]


@pytest.fixture
def site(tmp_path):
    """A complete fake build, its toc and config: (html folder, argv tail)."""
    html = tmp_path / "html"
    for name in [*PAGES, "_vendor/mathjax/tex-chtml.js", "_vendor/require.js"]:
        (html / name).parent.mkdir(parents=True, exist_ok=True)
        (html / name).write_text("x")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(TOC))
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(CONFIG))
    return html, [str(html), "--toc", str(tmp_path / "_toc.yml"),
                  "--config", str(tmp_path / "_config.yml")]


def run(argv, capsys) -> tuple[int, str]:
    code = check_upload.main(argv)
    return code, capsys.readouterr().out


def test_a_complete_build_passes_with_one_line(site, capsys):
    code, out = run(site[1], capsys)
    assert code == 0 and out.count("\n") == 1 and "fit to publish: 5 pages" in out


@pytest.mark.parametrize("page", ["book/a_more.html", "book/b.html", "index.html"])
def test_a_missing_page_fails_with_its_name(site, capsys, page):
    (site[0] / page).unlink()
    code, out = run(site[1], capsys)
    assert code == 1 and out.strip().endswith(f"missing page: {page} (listed in the toc)")


def test_a_missing_or_empty_vendor_folder_fails(site, capsys):
    shutil.rmtree(site[0] / "_vendor")
    code, out = run(site[1], capsys)
    assert code == 1 and "missing _vendor/" in out
    (site[0] / "_vendor").mkdir()
    code, out = run(site[1], capsys)
    assert code == 1 and "missing _vendor/" in out


def test_a_vendored_script_the_pages_load_is_required(site, capsys):
    (site[0] / "_vendor" / "require.js").unlink()
    code, out = run(site[1], capsys)
    assert code == 1 and "missing _vendor/require.js (named in _config.yml)" in out


def test_a_reports_folder_fails_and_names_the_chapter(site, capsys):
    (site[0] / "reports" / "book").mkdir(parents=True)
    (site[0] / "reports" / "book" / "b.err.log").write_text("Traceback ...")
    code, out = run(site[1], capsys)
    assert code == 1 and "reports/ present (b.err.log)" in out


def test_no_build_is_one_line(tmp_path, site, capsys):
    code, out = run([str(tmp_path / "nowhere"), *site[1][1:]], capsys)
    assert code == 1 and out.count("\n") == 1 and "no such folder" in out


def test_the_real_toc_lists_every_chapter():
    files = check_upload.toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    assert files[0] == "book/intro" and "book/references" in files
    assert {f"book/{p.stem}" for p in (ROOT / "book").glob("*.ipynb")} <= set(files)


def test_the_makefile_and_the_workflow_run_the_check():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("book: setup", "test-book:"):
        recipe = makefile.split(f"\n{target}\n", 1)[1].split("\n\n", 1)[0]
        assert recipe.index("jupyter-book build") < recipe.index("scripts/check_upload.py")
    build = yaml.safe_load((ROOT / ".github/workflows/book.yml").read_text())["jobs"]["build"]
    runs = [step.get("run", "") + step.get("uses", "") for step in build["steps"]]
    check = next(i for i, s in enumerate(runs) if "check_upload.py _build/html" in s)
    assert check < next(i for i, s in enumerate(runs) if "upload-pages-artifact" in s)
