"""Make a small venv on top of the project's: it sees .venv's packages, its own ones win.

    python scripts/layered_venv.py DEST PIP_ARGS...

Used by `make test` to run the chapters from an installed wheel outside the checkout (as Colab
does) and the widget tests under Colab's ipywidgets 7.7.1, without a second copy of torch.
The project's site-packages is added by a .pth line, which appends it to sys.path after the
new venv's own site-packages and does not run its .pth files (so the editable vae_lib of .venv
stays out).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path


def purelib(python: Path) -> Path:
    """The site-packages folder of the Python at `python`."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.check_output([str(python), "-c", code], text=True).strip())


def main(dest: str, *pip_args: str) -> None:
    target = Path(dest)
    shutil.rmtree(target, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    (purelib(python) / "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    if pip_args:
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "--no-deps", *pip_args])


if __name__ == "__main__":
    main(*sys.argv[1:])
