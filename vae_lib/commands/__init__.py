"""`python -m vae_lib train | aevb | iwae`: parse the flags, build the config, run it.

train  one VAE run and the folder it writes, as in the notes' train.py (`book/08_training.ipynb`)
aevb   Kingma & Welling's Figure 2 curves into a results folder (`book/12_aevb.ipynb`)
iwae   Burda et al.'s Table 1 recipe, resumable, and L_K of a checkpoint (chapter 13)

Each command is thin: its flags come from a config dataclass (`flags`), its --out from the run
layer's policy (`vae_lib.runkit.folder`), and the work from the experiment's own module. Bad
input (a flag, a folder, a run that cannot continue, data that cannot be read) ends in one line
and exit status 2; Ctrl-C in exit status 130 and how to resume; a bug keeps its traceback.
"""

from __future__ import annotations

import sys

from ..checkpoint import CheckpointError
from ..data import DataError
from ..runkit.folder import UsageError
from ..runkit.state import RunError
from .flags import OneLineParser

ONE_LINE_ERRORS = (UsageError, RunError, DataError, CheckpointError, FloatingPointError)


def build_parser() -> OneLineParser:
    """The `python -m vae_lib` parser with its three commands, each added by its own module."""
    from . import aevb, iwae, train

    parser = OneLineParser(prog="python -m vae_lib",
                           description="Train and study VAEs from the vae-book.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for module in (train, aevb, iwae):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m vae_lib` and the `vae-lib` script (README.md; its `train`
    command is the one `book/08_training.ipynb` shows).

    Bad input is one line on stderr and exit status 2. A ValueError from inside the library is
    not bad input the command failed to catch at its boundary: it is a bug, and keeps its
    traceback.
    """
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except ONE_LINE_ERRORS as err:
        print(f"vae_lib: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"vae_lib: interrupted{'; ' + str(err) if str(err) else ''}", file=sys.stderr)
        return 130
