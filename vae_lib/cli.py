"""Command line: `python -m vae_lib train ...` re-creates the notes' train.py.

`train` keeps the notes' short flags (-e, -b, -lr, -n) and writes everything a reader wants
to look at into one folder (`vae_lib.train_command`). `aevb` runs Kingma & Welling's Figure 2
experiment (`vae_lib.aevb`). The flags of both are built from the fields of their configs
(`VAEConfig`, `AEVBConfig`), so a setting has one name, one default and one range. Bad input
ends with a one-line error and exit status 2; Ctrl-C with exit status 130 and how to resume.
`--out` never writes into experiments/ (committed results) without --into-committed, and a
folder that already holds a run is refused unless --resume continues it (`output_folder`).
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """Bad input to `python -m vae_lib` (chapter 8): reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + traceback
        raise UsageError(message)


def _base_type(annotation: Any) -> type:
    """int, float, str or bool from a field's annotation (`int | None` -> int)."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"tuple": tuple})  # noqa: S307 - our own annotations
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return _base_type(args[0])
    if typing.get_origin(annotation) is tuple:
        return args[0]
    return annotation


def _number(kind: type, name: str):
    def parse(text: str):
        try:
            value = kind(float(text)) if kind is int and "e" in text.lower() else kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if kind is int and "e" in text.lower() and value != float(text):
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}")
        return value

    return parse


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One flag per field of a config dataclass, with its default, help and type.

    How `python -m vae_lib` (README.md) gets its flags from `VAEConfig` (chapter 8).
    """
    for f in fields(config_class):
        meta, kind = f.metadata, _base_type(f.type)
        names, default = meta["flags"], None if f.default is MISSING else f.default
        options: dict[str, Any] = {"dest": f.name, "default": default, "help": meta["help"]}
        if kind is bool:
            parser.add_argument(*names, action="store_true", **options)
            continue
        if meta.get("choices"):
            options["choices"] = meta["choices"]
        if meta.get("required"):
            options["required"] = True
            del options["default"]
        if kind in (int, float):
            options["type"] = _number(kind, names[-1])
        if "tuple" in str(f.type):
            options["nargs"] = "+"
        parser.add_argument(*names, **options)


def config_from_args(config_class: type, args: argparse.Namespace) -> Any:
    """Build a config from parsed flags; its checks turn bad values into a UsageError.

    Also reads back the command stored in a results manifest (chapter 12).
    """
    values = {f.name: getattr(args, f.name) for f in fields(config_class)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return config_class(**values)
    except ValueError as err:
        raise UsageError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    """The `python -m vae_lib` parser: `train` from VAEConfig (chapter 8), `aevb` (chapter 12)."""
    from .aevb.config import AEVBConfig
    from .config import VAEConfig

    parser = _Parser(
        prog="python -m vae_lib", description="Train and study VAEs from the vae-book."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = commands.add_parser("train", help="train a VAE and save curves, reconstructions, a GIF")
    add_config_arguments(train, VAEConfig)
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_output_arguments(train, "runs/latest", "continue the run in --out from its last"
                          " finished epoch (checkpoint.pt), bit for bit")
    aevb = commands.add_parser("aevb", help="Kingma & Welling's Figure 2 curves as CSV files")
    add_config_arguments(aevb, AEVBConfig)
    aevb.add_argument("--quiet", action="store_true", help="no line per finished curve")
    _add_output_arguments(aevb, "runs/aevb", "continue the run in --out (same settings only):"
                          " finished curves stay, stopped ones go on from their checkpoint")
    from .iwae.command import add_parser

    add_parser(commands, _Parser, add_config_arguments)  # `iwae train | eval` (chapter 13)
    return parser


def _add_output_arguments(parser: argparse.ArgumentParser, default: str, resume: str) -> None:
    parser.add_argument("--out", type=Path, default=Path(default),
                        help="output folder; one that already holds a run is refused unless"
                             " --resume")
    parser.add_argument("--resume", action="store_true", help=resume)
    parser.add_argument("--into-committed", action="store_true",
                        help=f"allow an --out inside {COMMITTED}/ (the book's committed results)")


COMMITTED = "experiments"  # the book's committed results: written only with --into-committed


def inside_committed(path: Path) -> bool:
    """True if `path` lies in a book checkout's experiments/ folder, wherever the command runs.

    A folder named experiments/ counts when the folder holding it is a checkout of this book
    (it has `_toc.yml` and `vae_lib/`), and so do this package's own checkout's and the current
    folder's, so
    `--out ../experiments/x` from `book/` is caught as well as `--out experiments/x`.
    """
    where = path.resolve()
    own = Path(__file__).resolve().parents[1]
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
    after kill -9, so it never goes stale. Part of the --out policy (chapter 8).
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


def output_folder(path: Path, resume: bool, into_committed: bool, holds_run) -> Path:
    """Check `--out` before any work: a real folder, not committed results, not another run.

    The policy of `python -m vae_lib train | aevb` (chapter 8): an empty path is refused; a
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


def aevb_command(args: argparse.Namespace) -> int:
    """`python -m vae_lib aevb`: the Figure 2 curves of `book/12_aevb.ipynb` into `--out`."""
    from .aevb import command
    from .aevb.config import AEVBConfig
    from .aevb.runner import holds_results

    config = config_from_args(AEVBConfig, args)
    out = output_folder(args.out, args.resume, args.into_committed,
                        lambda path: holds_results(path, config.dataset))
    return command(config, out, quiet=args.quiet, resume=args.resume)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m vae_lib` and the `vae-lib` script (README.md, chapter 8)."""
    from .checkpoint import CheckpointError
    from .data import DataError
    from .train_command import train_command

    try:
        args = build_parser().parse_args(argv)
        if args.command == "iwae":
            from .iwae.command import run

            return run(args, UsageError)
        return {"train": train_command, "aevb": aevb_command}[args.command](args)
    except (UsageError, DataError, CheckpointError, ValueError, FloatingPointError) as err:
        print(f"vae_lib: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"vae_lib: interrupted{'; ' + str(err) if str(err) else ''}", file=sys.stderr)
        return 130


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


if __name__ == "__main__":
    sys.exit(main())
