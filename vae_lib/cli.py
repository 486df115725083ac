"""Command line: `python -m vae_lib train ...` re-creates the notes' train.py.

It keeps the notes' short flags (-e, -b, -lr, -n) and writes everything a reader wants to look
at into one folder: history.csv, loss.png, per-epoch reconstructions, reconstructions.gif and
the final checkpoint. `python -m vae_lib aevb ...` runs Kingma & Welling's Figure 2 experiment
(vae_lib/aevb.py). Bad input ends with a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

DATASETS = ("mnist", "fashion-mnist", "frey", "digits")
MODELS = ("mlp", "conv")
HISTORY_COLUMNS = ("epoch", "train_loss", "test_loss", "test_recon", "test_kl")


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + traceback
        raise UsageError(message)


def _number(kind, minimum, inclusive: bool, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if value != value or (value < minimum if inclusive else value <= minimum):
            bound = f">= {minimum}" if inclusive else f"> {minimum}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m vae_lib", description="Train and study VAEs from the vae-book."
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = commands.add_parser("train", help="train a VAE and save curves, reconstructions, a GIF")
    train.add_argument("-e", "--epochs", type=_number(int, 0, True, "epochs"), default=10)
    train.add_argument("-b", "--batch-size", type=_number(int, 1, True, "batch size"), default=128)
    train.add_argument(
        "-lr", "--learning-rate", type=_number(float, 0, False, "learning rate"), default=1e-3
    )
    train.add_argument("-n", "--latent-dim", type=_number(int, 1, True, "latent dim"), default=16)
    train.add_argument("--model", choices=MODELS, default="mlp")
    train.add_argument("--dataset", choices=DATASETS, default="mnist")
    train.add_argument("--beta", type=_number(float, 0, True, "beta"), default=1.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=Path, default=Path("runs/latest"), help="output folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    aevb = commands.add_parser("aevb", help="Kingma & Welling's Figure 2 curves as CSV files")
    aevb.add_argument("--dataset", choices=("mnist", "frey"), required=True)
    aevb.add_argument("--latent-dims", nargs="+", type=_number(int, 1, True, "latent dim"),
                      help="default: the paper's (3 5 10 20 200 for mnist, 2 5 10 20 for frey)")
    aevb.add_argument("--samples", type=_number(float, 100, True, "samples"), default=5e5,
                      help="training samples per curve (e.g. 2e6)")
    aevb.add_argument("--lr", type=_number(float, 0, False, "learning rate"), default=0.01,
                      help="Adagrad global step size; the paper chose from 0.01, 0.02, 0.1")
    aevb.add_argument("--seed", type=int, default=0)
    aevb.add_argument("--eval-train", type=_number(int, 1, True, "eval-train"), default=5000)
    aevb.add_argument("--eval-test", type=_number(int, 1, True, "eval-test"), default=5000)
    aevb.add_argument("--first", type=_number(int, 100, True, "first"), default=1000,
                      help="first evaluation point (samples)")
    aevb.add_argument("--per-decade", type=_number(int, 1, True, "per-decade"), default=4)
    aevb.add_argument("--init-std", type=_number(float, 0, False, "init std"), default=0.01)
    aevb.add_argument("--threads", type=_number(int, 1, True, "threads"), default=1)
    aevb.add_argument("--out", type=Path, default=Path("experiments/aevb"), help="output folder")
    aevb.add_argument("--quiet", action="store_true", help="no line per finished curve")
    return parser


def _writable_folder(path: Path) -> Path:
    """Create the output folder and prove we can write there before spending time training."""
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from .checkpoint import atomic_write_text, save_checkpoint
    from .data import load_dataset
    from .models import MLPVAE, ConvVAE
    from .plots import grid_to_pil, plot_losses, save_figure, save_gif
    from .train import fit

    out = _writable_folder(args.out)
    if args.model == "conv" and args.dataset == "frey":
        raise UsageError("the conv model needs square images; use --model mlp for frey")
    size = 32 if args.model == "conv" else None
    train, test = (
        load_dataset(args.dataset, "train", size=size),
        load_dataset(args.dataset, "test", size=size),
    )
    shape = tuple(train.images.shape[1:])
    if args.model == "conv":
        model = ConvVAE(latent_dim=args.latent_dim)
    else:
        likelihood = "gaussian" if args.dataset == "frey" else "bernoulli"
        model = MLPVAE(latent_dim=args.latent_dim, image_shape=shape, likelihood=likelihood)
    fixed = test.images[:8]
    frames = []

    def save_reconstructions(record, model) -> None:
        with torch.no_grad():
            device = next(model.parameters()).device
            recon = model(fixed.to(device))[0].cpu()
        picture = grid_to_pil(torch.cat([fixed, recon]), ncols=8)
        frames.append(picture)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        from .checkpoint import atomic_write_bytes

        atomic_write_bytes(
            out / "reconstructions" / f"epoch_{record.epoch:03d}.png", buffer.getvalue()
        )

    history = fit(
        model,
        train.images,
        test.images,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.learning_rate,
        beta=args.beta,
        seed=args.seed,
        quiet=args.quiet,
        on_epoch=save_reconstructions,
    )
    atomic_write_text(out / "history.csv", _history_csv(history))
    if history:
        save_figure(plot_losses(history), out / "loss.png")
        plt.close("all")
        save_gif(frames, out / "reconstructions.gif")
    save_checkpoint(
        model.cpu(),
        out / "model.pt",
        history=history.as_dicts(),
        args=vars(args) | {"out": str(out)},
    )
    final = f"test loss {history[-1].test_loss:.2f} nats/image" if history else "no epochs run"
    print(f"{final}; wrote {out}")
    return 0


def aevb_command(args: argparse.Namespace) -> int:
    from . import aevb

    _writable_folder(args.out)
    return aevb.command(args)


def main(argv: list[str] | None = None) -> int:
    from .data import DataError

    try:
        args = build_parser().parse_args(argv)
        return {"train": train_command, "aevb": aevb_command}[args.command](args)
    except (UsageError, DataError, ValueError) as err:
        print(f"vae_lib: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vae_lib: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
