"""`python -m vae_lib train`: one VAE run and the folder it writes, as in the notes' train.py.

The folder gets checkpoint.pt after every epoch (the run's whole state, so `--resume` continues
it bit for bit), reconstructions/epoch_NNN.png, and at the end history.csv, loss.png,
reconstructions.gif and model.pt. Ctrl-C keeps every finished epoch and says how to resume.
Explained in `book/08_training.ipynb`.
"""

from __future__ import annotations

import argparse
import io
import shlex
from pathlib import Path
from typing import Any

from ..runkit.folder import UsageError, output_folder
from .flags import add_config_arguments, add_output_arguments, config_from_args

HISTORY_COLUMNS = ("epoch", "train_loss", "test_loss", "test_recon", "test_kl")
CHECKPOINT = "checkpoint.pt"


def add_parser(commands: Any) -> None:
    """The `train` command, its flags made from `VAEConfig`: the settings a chapter's run has."""
    from ..config import VAEConfig

    train = commands.add_parser("train", help="train a VAE and save curves, reconstructions, a GIF")
    add_config_arguments(train, VAEConfig)
    add_output_arguments(train, "runs/latest", "continue the run in --out from its last"
                         " finished epoch (checkpoint.pt), bit for bit")
    train.set_defaults(handler=train_command)


def holds_run(path: Path) -> bool:
    """True if a `train` folder has anything in it: a run to resume, or files not to mix with."""
    return path.is_dir() and any(path.iterdir())


def train_command(args: argparse.Namespace) -> int:
    """`python -m vae_lib train`: one VAE run with its pictures, as in the notes' train.py."""
    import matplotlib

    matplotlib.use("Agg")
    from ..config import VAEConfig, command_line
    from ..data import load_dataset
    from ..runs import train_vae

    config = config_from_args(VAEConfig, args)
    out = output_folder(args.out, args.resume, args.into_committed, holds_run)
    if args.resume and not (out / CHECKPOINT).is_file():
        raise UsageError(f"--resume: {out} has no {CHECKPOINT} to continue from")
    if args.resume and (done := _epochs_saved(out / CHECKPOINT)) > config.epochs:
        raise UsageError(f"--resume with --epochs {config.epochs}: the run in {out} has done"
                         f" {done} epochs already; give --epochs {done} or more")
    command = f"{command_line('python -m vae_lib train', config)} --out {shlex.quote(str(out))}"
    fixed = load_dataset(config.dataset, "test", size=config.image_size).images[:8]
    frames = _earlier_frames(out) if args.resume else []
    try:
        model, extras = train_vae(
            config, quiet=args.quiet, checkpoint=out / CHECKPOINT, resume=args.resume,
            on_epoch=lambda record, model: _save_reconstructions(out, record.epoch, model,
                                                                 fixed, frames))
    except KeyboardInterrupt:
        saved = _epochs_saved(out / CHECKPOINT)
        if not saved:
            raise KeyboardInterrupt("no epoch had finished; nothing was saved") from None
        raise KeyboardInterrupt(f"{saved} finished epoch(s) are saved in {out / CHECKPOINT};"
                                f" continue with: {command} --resume") from None
    _write_outputs(out, model, extras, frames, command)
    history = extras["history"]
    final = f"test loss {history[-1]['test_loss']:.2f} nats/image" if history else "no epochs run"
    print(f"{final}; wrote {out}")
    return 0


def _epochs_saved(path: Path) -> int:
    from ..checkpoint import CheckpointError, read_checkpoint

    try:
        return len(read_checkpoint(path).get("history", []))
    except CheckpointError:
        return 0


def _earlier_frames(out: Path) -> list:
    """The reconstructions a resumed run already drew, for its GIF."""
    from PIL import Image

    frames = []
    for path in sorted((out / "reconstructions").glob("epoch_*.png")):
        with Image.open(path) as picture:
            frames.append(picture.copy())
    return frames


def _save_reconstructions(out: Path, epoch: int, model, fixed, frames: list) -> None:
    """After each epoch: eight test images above their reconstructions, kept for the GIF."""
    import torch

    from ..device import model_device
    from ..files import atomic_write_bytes
    from ..plots import grid_to_pil

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

    from ..checkpoint import save_checkpoint
    from ..files import atomic_write_text, csv_text
    from ..plots import plot_losses, save_figure, save_gif
    from ..train import EpochRecord, History

    history = History(EpochRecord(**row) for row in extras["history"])
    rows = ([r.epoch] + [f"{getattr(r, c):.4f}" for c in HISTORY_COLUMNS[1:]] for r in history)
    atomic_write_text(out / "history.csv", csv_text(HISTORY_COLUMNS, rows))
    if history:
        save_figure(plot_losses(history), out / "loss.png")
        plt.close("all")
        save_gif(frames, out / "reconstructions.gif")
    save_checkpoint(model, out / "model.pt", history=extras["history"], command=command)
