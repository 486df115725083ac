"""The --out policy of every command: where a run may write, and one run per folder.

`python -m vae_lib train | aevb | iwae train` all check their output folder here, before any
work: not an empty path, not the book's committed results without --into-committed, not a
folder holding another run unless --resume continues it, and not a folder another command is
writing right now (a lock the operating system drops when the process ends). The policy in
words: README.md, 'Runs that are not lost'; the layer it belongs to: CONTRIBUTING.md, 'Runs and
commands'.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


class UsageError(Exception):
    """Bad input to `python -m vae_lib`: reported in one line, exit status 2, no traceback."""


COMMITTED = "experiments"  # the book's committed results: written only with --into-committed


def inside_committed(path: Path) -> bool:
    """True if `path` lies in a book checkout's experiments/ folder, wherever the command runs.

    A folder named experiments/ counts when the folder holding it is a checkout of this book
    (it has `_toc.yml` and `vae_lib/`), and so do this package's own checkout's and the current
    folder's, so
    `--out ../experiments/x` from `book/` is caught as well as `--out experiments/x`.
    """
    where = path.resolve()
    own = Path(__file__).resolve().parents[2]
    for known in (own / COMMITTED, Path.cwd().resolve() / COMMITTED):
        if where == known or known in where.parents:
            return True
    for folder in (where, *where.parents):
        root = folder.parent
        if folder.name == COMMITTED and (root / "_toc.yml").is_file() and (
            root / "vae_lib"
        ).is_dir():
            return True
    return False


_HELD_LOCKS: dict[Path, int] = {}  # open folder descriptors, locked until the process ends


def lock_folder(path: Path) -> None:
    """Take the output folder's lock (flock on the folder itself) for the rest of this process.

    A second command writing into the same --out, started while the first runs, is refused
    in one line instead of silently mixing its files with the first one's. Nothing is written
    into the folder, and the operating system drops the lock when the process ends, even
    after kill -9, so it never goes stale. Part of the --out policy (`output_folder`).
    """
    key = path.resolve()
    if key in _HELD_LOCKS:
        return
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the checks around it still catch most cases
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise UsageError(f"cannot open output folder {path}: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UsageError(f"--out {path} is in use by another run right now; wait for it or"
                         " choose another --out") from None
    _HELD_LOCKS[key] = fd


def output_folder(path: Path, resume: bool, into_committed: bool,
                  holds_run: Callable[[Path], bool]) -> Path:
    """Check `--out` before any work: a real folder, not committed results, not another run.

    The policy of `python -m vae_lib train | aevb | iwae train`: an empty path is refused; a
    folder inside experiments/ needs --into-committed; a folder that already holds a run
    (`holds_run(path)`) is continued with --resume and refused otherwise, so nothing is
    overwritten or mixed with a stale run's files; --resume with nothing to resume is refused.
    """
    if str(path).strip() in {"", "."}:
        raise UsageError("--out must name a folder, got an empty path")
    try:
        path.resolve(strict=False).stat() if path.exists() else path.resolve(strict=False)
    except (OSError, RuntimeError) as err:  # a symlink loop, a name too long, ...
        raise UsageError(f"--out {str(path)[:80]} cannot be used: "
                         f"{getattr(err, 'strerror', None) or err}") from None
    if not into_committed and inside_committed(path):
        raise UsageError(f"--out {path} is inside {COMMITTED}/, the book's committed results;"
                         " pass --into-committed to write there")
    if holds_run(path) and not resume:
        raise UsageError(f"--out {path} already holds a run: pass --resume to continue it,"
                         " or choose another --out")
    if resume and not holds_run(path):
        raise UsageError(f"--resume: there is no run to continue in {path}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"cannot write to output folder {path}: {err.strerror or err}") from None
    lock_folder(path)
    if holds_run(path) and not resume:  # another run got here between the look and the lock
        raise UsageError(f"--out {path} already holds a run: pass --resume to continue it,"
                         " or choose another --out")
    return path
