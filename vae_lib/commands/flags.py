"""Command-line flags made from config dataclasses: one name, one default, one range each.

Every field of `VAEConfig`, `AEVBConfig` and `IWAEConfig` is made with `vae_lib.config.setting`,
which records its flags, help and range; the parser here reads them, so the flags never restate a
default. A bad value ends in one line (`UsageError`).
"""

from __future__ import annotations

import argparse
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from ..runkit.folder import UsageError


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are a `UsageError`: one line and exit status 2, no usage dump."""

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

    How `python -m vae_lib` (README.md) gets its flags from `VAEConfig` and the other configs:
    the field is the one place a default or a range is written.
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

    How every command of `python -m vae_lib` starts: parse, then config, then run.
    """
    values = {f.name: getattr(args, f.name) for f in fields(config_class)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return config_class(**values)
    except ValueError as err:
        raise UsageError(str(err)) from None


def add_output_arguments(parser: argparse.ArgumentParser, default: str | None,
                         resume_help: str) -> None:
    """--out, --resume and --into-committed, the same for every command (README.md, 'Runs that
    are not lost').

    `default` None makes --out compulsory; what they allow is `vae_lib.runkit.folder`'s policy.
    """
    from ..runkit.folder import COMMITTED

    out_help = "output folder; one that already holds a run is refused unless --resume"
    if default is None:
        parser.add_argument("--out", type=Path, required=True, help=out_help)
    else:
        parser.add_argument("--out", type=Path, default=Path(default), help=out_help)
    parser.add_argument("--resume", action="store_true", help=resume_help)
    parser.add_argument("--into-committed", action="store_true",
                        help=f"allow an --out inside {COMMITTED}/ (the book's committed results)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
