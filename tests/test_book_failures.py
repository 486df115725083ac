"""`make book` fails on a chapter that did not execute (scripts/book_failures.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "book_failures.py"
spec = importlib.util.spec_from_file_location("book_failures", SCRIPT)
book_failures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book_failures)


def test_a_failed_chapter_fails_with_its_name_and_error(tmp_path, capsys):
    html = tmp_path / "html"
    (html / "reports" / "book").mkdir(parents=True)
    assert book_failures.main(["x", str(html)]) == 0
    (html / "reports" / "book" / "09_conv_vae.err.log").write_text(
        "Traceback (most recent call last):\n  File \"x\", line 1\n"
        "\x1b[0;31mDataError\x1b[0m: no MNIST in /nowhere; set VAE_DATA_DIR\n")
    assert book_failures.main(["x", str(html)]) == 1
    err = capsys.readouterr().err
    assert err == "chapter failed: 09_conv_vae: DataError: no MNIST in /nowhere; set VAE_DATA_DIR\n"


def test_the_makefile_runs_the_check_after_a_full_rebuild():
    makefile = (SCRIPT.parents[1] / "Makefile").read_text()
    recipe = makefile.split("\nbook: setup\n", 1)[1].split("\n\n", 1)[0]
    assert "--all" in recipe and "scripts/book_failures.py" in recipe
    assert recipe.index("jupyter-book build") < recipe.index("book_failures.py")
