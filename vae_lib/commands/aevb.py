"""`python -m vae_lib aevb`: Kingma & Welling's Figure 2 curves into a results folder.

Parse the flags (made from `AEVBConfig`), check --out, then `vae_lib.aevb.train_figure`.
Explained in `book/12_aevb.ipynb`.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..runkit.folder import output_folder
from .flags import add_config_arguments, add_output_arguments, config_from_args


def add_parser(commands: Any) -> None:
    """The `aevb` command, its flags made from `AEVBConfig`, so every setting of a run is a flag."""
    from ..aevb.config import AEVBConfig

    aevb = commands.add_parser("aevb", help="Kingma & Welling's Figure 2 curves as CSV files")
    add_config_arguments(aevb, AEVBConfig)
    add_output_arguments(aevb, "runs/aevb", "continue the run in --out (same settings only):"
                         " finished curves stay, stopped ones go on from their checkpoint")
    aevb.set_defaults(handler=aevb_command)


def aevb_command(args: argparse.Namespace) -> int:
    """`python -m vae_lib aevb`: the Figure 2 curves into `--out` (experiments/aevb/README.md,
    'Commands')."""
    from ..aevb.config import AEVBConfig
    from ..aevb.figure import holds_results, train_figure

    config = config_from_args(AEVBConfig, args)
    out = output_folder(args.out, args.resume, args.into_committed,
                        lambda path: holds_results(path, config.dataset))
    return train_figure(config, out, quiet=args.quiet)
