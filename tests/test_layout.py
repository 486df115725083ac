"""The package's own conventions: a light import, chapter back-references, short modules."""

import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vae_lib

PACKAGE = Path(vae_lib.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], "vae_lib."))


def test_import_vae_lib_loads_no_plotting_sympy_or_widgets():
    code = ("import sys, vae_lib; vae_lib.MLPVAE; vae_lib.fit; vae_lib.cached_vae;"
            " print(sorted(m for m in ('matplotlib', 'sympy', 'ipywidgets') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_exported_name_resolves():
    for name in vae_lib.__all__:
        assert getattr(vae_lib, name) is not None


def _public_functions():
    for name in MODULES:
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            # functools.lru_cache and the like wrap a function: it is one too
            if inspect.isfunction(inspect.unwrap(obj)) or inspect.isclass(obj):
                yield f"{name}.{attr}", obj


PUBLIC = dict(_public_functions())


def _public_methods():
    """(qualname, function, names a chapter may call it by): the method's or its class's name."""
    for qualname, cls in PUBLIC.items():
        if not inspect.isclass(cls):
            continue
        for attr, member in vars(cls).items():
            member = getattr(member, "fget", None) or getattr(member, "__func__", member)
            if not attr.startswith("_") and inspect.isfunction(member):
                yield f"{qualname}.{attr}", member, (attr, cls.__name__)


# Back-references, true by construction (d2l's are): a docstring that names a chapter is
# checked against that chapter's notebook, all cells, code and Markdown alike.
BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = {int(path.name[:2]): "\n".join("".join(c["source"])
                                          for c in json.loads(path.read_text())["cells"])
            for path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))}
# Chapters being written, whose library code may name them before the notebook exists: a
# reference to one of these passes only while its notebook is absent; once the file exists,
# the rule below applies to it. Every chapter named so far is written.
PENDING: set[int] = set()
# What names a chapter: `book/NN_...`, "chapter N", "chapters N-M" or "N to M" (a range),
# "chapters N, M and K", "ch. N" (the same patterns as the back-reference report).
_CHAPTER_LIST = re.compile(r"\b(?:[Cc]hapters?|[Cc]h\.)\s+"
                           r"(\d+(?:\s*(?:-|–|\bto\b|,\s*and\b|,|\band\b|\bor\b)\s*\d+)*)")


def named_chapters(doc: str) -> set[int]:
    found = {int(n) for n in re.findall(r"(?<![\w-])book/(\d+)", doc)}
    for listed in _CHAPTER_LIST.findall(doc):
        previous, dash = None, False
        for number, range_word in re.findall(r"(\d+)|(-|–|\bto\b)", listed):
            if range_word:
                dash = True
                continue
            n = int(number)
            found |= set(range(previous + 1, n + 1)) if dash and previous is not None else {n}
            previous, dash = n, False
    return found


def chapters_mentioning(*names: str) -> set[int]:
    """The chapters whose notebook has one of `names` as a whole word."""
    return {n for n, text in CHAPTERS.items()
            if any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)}


def _false_references(doc: str, *names: str) -> list[int]:
    users = chapters_mentioning(*names)
    return sorted(n for n in named_chapters(doc)
                  if n not in users and not (n in PENDING and n not in CHAPTERS))


def test_chapter_references_are_parsed_as_written():
    assert named_chapters("see `book/08_training.ipynb` and ch. 9") == {8, 9}
    assert named_chapters("chapters 8-11 and 13; chapter 2's foil") == {2, 8, 9, 10, 11, 13}
    assert named_chapters("chapters 12 and 13, a log-likelihood") == {12, 13}
    assert named_chapters("chapters 4 to 6; chapters 8, 12, 13") == {4, 5, 6, 8, 12, 13}
    assert named_chapters('FORMAT "vae-book/2", each. 5, Section 5') == set()


@pytest.mark.parametrize("qualname", list(PUBLIC))
def test_every_chapter_a_docstring_names_mentions_the_object(qualname):
    obj, name = PUBLIC[qualname], qualname.rsplit(".", 1)[1]
    false = _false_references(obj.__doc__ or "", name)
    users = sorted(chapters_mentioning(name))
    assert not false, (f"{qualname} names chapter(s) {false}, whose notebook never mentions"
                       f" `{name}`; chapters that do: {users}")


def test_every_chapter_a_method_docstring_names_mentions_the_method_or_its_class():
    false = {qualname: refs for qualname, method, names in _public_methods()
             if (refs := _false_references(method.__doc__ or "", *names))}
    assert not false, f"methods naming chapters that mention neither them nor their class: {false}"


# Names that a chapter has only as an ordinary word, not as the object: none needed so far.
# Each entry needs a reason in a comment.
NOT_USED_BY_NAME: set[str] = set()


@pytest.mark.parametrize("qualname", list(PUBLIC))
def test_an_object_a_chapter_uses_names_one_such_chapter(qualname):
    obj, name = PUBLIC[qualname], qualname.rsplit(".", 1)[1]
    users = chapters_mentioning(name)
    if qualname in NOT_USED_BY_NAME or not users:
        return
    assert named_chapters(obj.__doc__ or "") & users, (
        f"{qualname} is mentioned by chapter(s) {sorted(users)}; its docstring names none of them")


@pytest.mark.parametrize("qualname", list(PUBLIC))
def test_every_public_object_has_its_own_docstring(qualname):
    obj = PUBLIC[qualname]
    doc = (obj.__doc__ or "").strip()
    # a dataclass without a docstring gets its signature, "Name(field: type, ...)", as one
    assert doc and not doc.startswith(f"{obj.__name__}("), f"{qualname} says nothing of why"


def test_a_module_docstring_names_only_chapters_that_use_the_module():
    """A chapter a module docstring names mentions the module, its package or a public name.

    For a package, the public names of its modules count: its docstring is their index."""
    false = {}
    for name in ("vae_lib", *(m for m in MODULES if not m.endswith("__main__"))):
        module = importlib.import_module(name)
        parts = name.split(".")
        names = set(parts[1:] or parts)  # vae_lib.aevb.figure: "aevb" and "figure"
        for qualname in PUBLIC:
            owner, attr = qualname.rsplit(".", 1)
            if owner == name or (hasattr(module, "__path__") and owner.startswith(name + ".")):
                names.add(attr)
        if refs := _false_references(module.__doc__ or "", *names):
            false[name] = refs
    assert not false, f"module docstrings naming chapters that do not use them: {false}"


def test_no_module_is_much_over_250_lines():
    lengths = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines())
               for p in PACKAGE.rglob("*.py")}
    assert not {name: n for name, n in lengths.items() if n > 260}


def test_usable_cpus_follow_the_cgroup_quota(monkeypatch, tmp_path):
    from vae_lib import device

    files = {"/proc/self/cgroup": "0::/box\n", "/sys/fs/cgroup/box/cpu.max": "150000 100000\n"}
    real_read = Path.read_text

    def read_text(self, *args, **kwargs):
        if str(self) in files:
            return files[str(self)]
        if str(self).startswith(("/sys/fs/cgroup", "/proc/self/cgroup")):
            raise OSError("not in this test")
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert device.usable_cpus() == 2  # one and a half CPUs, rounded up
    files["/sys/fs/cgroup/box/cpu.max"] = "max 100000\n"
    assert device.usable_cpus() == 64
    files["/proc/self/cgroup"] = "4:cpu,cpuacct:/job\n"
    files["/sys/fs/cgroup/cpu/job/cpu.cfs_quota_us"] = "100000\n"
    files["/sys/fs/cgroup/cpu/job/cpu.cfs_period_us"] = "100000\n"
    assert device.usable_cpus() == 1


def test_answer_checker_accepts_close_answers_only(capsys):
    check = vae_lib.answer_checker({"exercise 1": 2.0}, tolerance=1e-3)
    assert check("exercise 1", 2.001) is True
    assert check("exercise 1", 2.01) is False
    assert check("exercise 1", float("nan")) is False
    assert check("exercise 1", None) is None
    assert capsys.readouterr().out.splitlines()[-1].startswith("exercise 1: put your number")
    with pytest.raises(ValueError, match="no exercise 'exercise 9'"):
        check("exercise 9", 1.0)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at the top or inside functions."""
    import ast

    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("vae_lib", *path.relative_to(PACKAGE).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + [node.module] if node.module else base) if node.level \
                    else node.module or ""
                edges |= {t for t in (target, *(f"{target}.{a.name}" for a in node.names))
                          if t in names}
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in names}
        graph[name] = edges - {name}
    return graph


def test_no_import_circle_even_inside_functions():
    graph, done, path = _import_graph(), set(), []

    def visit(module):
        if module in path:
            raise AssertionError(f"import circle: {' -> '.join(path[path.index(module):])}")
        if module in done:
            return
        path.append(module)
        for target in sorted(graph[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


RUN_LAYER = ("vae_lib.runkit", "vae_lib.runs", "vae_lib.aevb", "vae_lib.iwae")
COMMANDS = ("vae_lib.commands", "vae_lib.__main__")


def _layer(module: str) -> int:
    if module.startswith(COMMANDS):
        return 2
    return 1 if module.startswith(RUN_LAYER) else 0


def test_layers_import_downwards_only():
    """The book's library knows nothing of the run layer, which knows nothing of the commands."""
    upward = sorted(f"{m} -> {t}" for m, targets in _import_graph().items() for t in targets
                    if _layer(t) > _layer(m) and m != "vae_lib")
    assert not upward


def test_the_wheel_lists_every_subpackage():
    """pyproject.toml names the packages by hand: a new folder of vae_lib left out of it would
    be missing from the wheel that nbval and readers install."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"][
        "setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts)
             for p in PACKAGE.rglob("__init__.py")}
    assert found - listed == set()
