"""`python -m vae_lib iwae train | eval`: Burda et al.'s recipe, and L_K of a checkpoint.

`train` runs `vae_lib.iwae.table.train_row` into --out (resumable); `eval` prints -L_K of any
MNIST checkpoint on a seeded random subset of the test set. Explained in
`book/13_log_likelihood.ipynb`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..runkit.folder import UsageError, output_folder
from .flags import OneLineParser, add_config_arguments, add_output_arguments, config_from_args

MAX_EVAL_K = 100_000


def add_parser(commands: Any) -> None:
    """The `iwae` command with its `train` and `eval` subcommands (experiments/iwae/README.md,
    'Commands')."""
    from ..iwae.config import IWAEConfig

    iwae = commands.add_parser("iwae", help="Burda et al.'s Table 1 recipe (train, eval)")
    sub = iwae.add_subparsers(dest="iwae_command", required=True, parser_class=OneLineParser)
    train = sub.add_parser("train", help="train with the staged schedule (resumable)")
    add_config_arguments(train, IWAEConfig)
    add_output_arguments(train, None, "continue the run in --out (same settings only)")
    train.set_defaults(handler=train_command)
    evaluate = sub.add_parser("eval", help="print the test bound L_K of a checkpoint")
    evaluate.add_argument("checkpoint", type=Path, help="an iwae_weights.pt or checkpoint")
    evaluate.add_argument("--k", type=int, default=5000, help="importance samples K")
    evaluate.add_argument("--images", type=int, default=10_000,
                          help="a seeded random subset of N test images")
    evaluate.set_defaults(handler=eval_command)


def train_command(args: argparse.Namespace) -> int:
    """`iwae train`: parse, config, --out, then the run (`vae_lib.iwae.table.train_row`)."""
    from ..iwae.config import IWAEConfig
    from ..iwae.table import holds_run, train_row

    config = config_from_args(IWAEConfig, args)
    out = output_folder(args.out, args.resume, args.into_committed, holds_run)
    log = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    state = train_row(config, out, args.resume, log)
    print(f"finished {state['stage']} stages; wrote {out}")
    return 0


def recorded_dataset(extras: dict[str, Any]) -> str | None:
    """The data set a checkpoint says its model was trained on, or None: `iwae eval` refuses a
    model of another data set instead of scoring it on MNIST."""
    if "iwae_config" in extras:
        return "mnist"  # Burda et al.'s recipe trains on MNIST only
    for key in ("run", "aevb_config"):
        if isinstance(extras.get(key), dict) and "dataset" in extras[key]:
            return str(extras[key]["dataset"])
    if isinstance(extras.get("cache_key"), str):
        settings = json.loads(extras["cache_key"]).get("settings", {})
        if isinstance(settings, dict) and "dataset" in settings:
            return str(settings["dataset"])
    return None


def eval_command(args: argparse.Namespace) -> int:
    """`iwae eval`: -L_K of a checkpoint's model on a seeded random test subset, any model
    that `load_checkpoint` reads and that was trained on MNIST."""
    from ..checkpoint import load_checkpoint
    from ..device import torch_threads
    from ..evaluation import describe_subset, mean_se, random_subset
    from ..iwae.config import IWAEConfig
    from ..iwae.training import load_mnist, nll_per_image

    if not 1 <= args.k <= MAX_EVAL_K:
        raise UsageError(f"--k must be between 1 and {MAX_EVAL_K}, got {args.k}")
    if not 1 <= args.images <= 10_000:
        raise UsageError(f"--images must be between 1 and 10000, got {args.images}")
    model, extras = load_checkpoint(args.checkpoint, map_location="cpu")
    if getattr(model, "likelihood", None) != "bernoulli" or model.image_shape != (1, 28, 28):
        raise UsageError(f"{args.checkpoint} is not a Bernoulli MNIST VAE")
    dataset = recorded_dataset(extras)
    if dataset != "mnist":  # a Fashion-MNIST model has the same shape and likelihood
        said = f"was trained on {dataset}" if dataset else "does not record its data set"
        raise UsageError(f"{args.checkpoint} {said}; iwae eval scores MNIST models only")
    _, test = load_mnist(IWAEConfig(train_size=1))
    with torch_threads(1):
        values = nll_per_image(model, random_subset(test, args.images), args.k)
    which = describe_subset(test.shape[0], args.images)
    if values.numel() > 1:
        est = mean_se(values)
        print(f"test NLL (-L_{args.k}) = {est.mean:.3f} ± {est.se:.3f} nats (standard error"
              f" between images) on {which} binarized MNIST test images")
    else:
        print(f"test NLL (-L_{args.k}) = {float(values[0]):.3f} nats on {which} binarized"
              " MNIST test images")
    return 0
