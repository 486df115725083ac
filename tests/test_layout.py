"""The package's own conventions: a light import, chapter back-references, short modules."""

import importlib
import inspect
import pkgutil
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
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize("qualname, obj", list(_public_functions()), ids=lambda v: str(v)[:60])
def test_every_public_function_says_where_the_book_explains_it(qualname, obj):
    module_doc = inspect.getmodule(obj).__doc__ or ""
    own_doc = obj.__doc__ or ""
    # d2l style: the docstring (or, for a module serving one chapter, the module's) names it
    assert "book/" in own_doc or "chapter" in own_doc.lower() or (
        "book/" in module_doc and not inspect.isclass(obj) and own_doc
    ), f"{qualname}: its docstring names no chapter"


def test_no_module_is_much_over_250_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
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
