"""Which source code a cached model depends on, for the run cache's key (`vae_lib.runs`).

The cache retrains a model when the code that trains it changes. Hashing every file of the
package retrained every chapter's models after an edit to a help string; here the key covers
only the modules that can change a trained model (not the commands, the pictures or the
widgets), and only their code: docstrings, comments, formatting and help texts are left out,
since they change no number. The cache itself: README.md, 'Run the chapters yourself'.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
# modules that cannot change what a cached model learns: how runs are started and shown
NOT_TRAINING = ("commands/", "runkit/folder.py", "runkit/records.py", "runkit/code.py",
                "display/", "plots.py", "widgets.py", "derivation.py", "exercises.py",
                "aevb/plot.py", "aevb/results.py", "iwae/table.py", "__main__.py")


def _code_only(source: str) -> str:
    """The module's syntax tree without docstrings and help texts: what the code does."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant
        ) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        if isinstance(node, ast.Call):
            node.keywords = [k for k in node.keywords if k.arg != "help"]
    return ast.dump(tree, include_attributes=False)


def training_sources(package: Path = PACKAGE) -> list[Path]:
    """The package's modules that can change a trained model, in a fixed order, so the hash
    of `code_version` does not depend on the file system's listing."""
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if not any(relative.startswith(skip) for skip in NOT_TRAINING):
            found.append(path)
    return found


@lru_cache(maxsize=4)
def code_version(package: Path = PACKAGE) -> str:
    """A hash of the training code's syntax: a code change retrains, a docstring edit does not.

    Part of every run cache key (`vae_lib.runs.cached_model`).
    """
    digest = hashlib.sha1()
    for path in training_sources(package):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(_code_only(path.read_text()).encode())
    return digest.hexdigest()[:12]
