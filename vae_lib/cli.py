"""Command line: `python -m vae_lib train ...` re-creates the notes' train.py.

`train` keeps the notes' short flags (-e, -b, -lr, -n) and writes everything a reader wants to
look at into one folder: history.csv, loss.png, per-epoch reconstructions, reconstructions.gif
and the final checkpoint. `aevb` runs Kingma & Welling's Figure 2 experiment
(`vae_lib.aevb`). The flags of both are built from the fields of their configs (`VAEConfig`,
`AEVBConfig`), so a setting has one name, one default and one range. Bad input ends with a
one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

HISTORY_COLUMNS = ("epoch", "train_loss", "test_loss", "test_recon", "test_kl")


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
    train.add_argument("--out", type=Path, default=Path("runs/latest"), help="output folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    aevb = commands.add_parser("aevb", help="Kingma & Welling's Figure 2 curves as CSV files")
    add_config_arguments(aevb, AEVBConfig)
    aevb.add_argument("--out", type=Path, default=Path("runs/aevb"), help="output folder")
    aevb.add_argument("--quiet", action="store_true", help="no line per finished curve")
    from .iwae.command import add_parser

    add_parser(commands, _Parser, add_config_arguments)  # `iwae train | eval` (chapter 13)
    return parser


def _writable_folder(path: Path) -> Path:
    """Create the output folder and prove we can write there before spending time training."""
    if str(path).strip() in {"", "."}:
        raise UsageError("--out must name a folder, got an empty path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"cannot write to output folder {path}: {err.strerror or err}") from None
    return path


def _history_csv(history) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for r in history:
        writer.writerow([r.epoch] + [f"{getattr(r, c):.4f}" for c in HISTORY_COLUMNS[1:]])
    return out.getvalue()


def train_command(args: argparse.Namespace) -> int:
    """`python -m vae_lib train`: one VAE run with its pictures, as in the notes (chapter 8)."""
    import matplotlib

    matplotlib.use("Agg")
    from .config import VAEConfig, command_line
    from .data import load_dataset
    from .runs import train_vae

    config = config_from_args(VAEConfig, args)
    out = _writable_folder(args.out)
    fixed = load_dataset(config.dataset, "test", size=config.image_size).images[:8]
    frames: list = []
    model, extras = train_vae(config, quiet=args.quiet,
                              on_epoch=lambda record, model: _save_reconstructions(
                                  out, record.epoch, model, fixed, frames))
    _write_outputs(out, model, extras, frames,
                   command=f"{command_line('python -m vae_lib train', config)} --out {out}")
    history = extras["history"]
    final = f"test loss {history[-1]['test_loss']:.2f} nats/image" if history else "no epochs run"
    print(f"{final}; wrote {out}")
    return 0


def _save_reconstructions(out: Path, epoch: int, model, fixed, frames: list) -> None:
    """After each epoch: eight test images above their reconstructions, kept for the GIF."""
    import torch

    from .checkpoint import atomic_write_bytes
    from .device import model_device
    from .plots import grid_to_pil

    with torch.no_grad():
        recon = model(fixed.to(model_device(model)))[0].cpu()
    picture = grid_to_pil(torch.cat([fixed, recon]), ncols=8)
    frames.append(picture)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(out / "reconstructions" / f"epoch_{epoch:03d}.png", buffer.getvalue())


def _write_outputs(out: Path, model, extras: dict, frames: list, command: str) -> None:
    """history.csv, loss.png, reconstructions.gif and model.pt of a finished run."""
    import matplotlib.pyplot as plt

    from .checkpoint import atomic_write_text, save_checkpoint
    from .plots import plot_losses, save_figure, save_gif
    from .train import EpochRecord, History

    history = History(EpochRecord(**row) for row in extras["history"])
    atomic_write_text(out / "history.csv", _history_csv(history))
    if history:
        save_figure(plot_losses(history), out / "loss.png")
        plt.close("all")
        save_gif(frames, out / "reconstructions.gif")
    save_checkpoint(model, out / "model.pt", history=extras["history"], command=command)


def aevb_command(args: argparse.Namespace) -> int:
    """`python -m vae_lib aevb`: the Figure 2 curves of `book/12_aevb.ipynb` into `--out`."""
    from .aevb import command
    from .aevb.config import AEVBConfig

    config = config_from_args(AEVBConfig, args)
    return command(config, _writable_folder(args.out), quiet=args.quiet)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m vae_lib` and the `vae-lib` script (README.md, chapter 8)."""
    from .checkpoint import CheckpointError
    from .data import DataError

    try:
        args = build_parser().parse_args(argv)
        if args.command == "iwae":
            from .iwae.command import run

            return run(args, UsageError)
        return {"train": train_command, "aevb": aevb_command}[args.command](args)
    except (UsageError, DataError, CheckpointError, ValueError) as err:
        print(f"vae_lib: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vae_lib: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
