"""The settings of Kingma & Welling's Figure 2 experiment as one dataclass.

`AEVBConfig` is the single source of the experiment's settings: `python -m vae_lib aevb` builds
its flags from the fields, the manifest stores the config, and the command that reproduces a run
is printed from it. Explained in `book/12_aevb.ipynb`.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass
from typing import Any

from ..config import check_config, command_line, setting

BATCH_SIZE = 100  # M in the paper
# "N(0, 0.01)": read as a standard deviation of 0.01 (numpy's normal(0, 0.01) convention). Read
# as a variance (std 0.1), Frey Face's 2-d manifold comes out noisy and nearly one-dimensional.
INIT_STD = 0.01
MAX_SAMPLES = 10**9  # a bound on --samples: the paper's longest curves are 10^8
MAX_THREADS = 256
METHODS = ("aevb", "wake-sleep")  # Figure 2's two curves (wake-sleep: Hinton et al. 1995)
# Which images the bounds are evaluated on: a seeded random subset of each split, drawn alike
# (vae_lib.evaluation), or, in results written before 2026-12-01, the first N of each split.
EVAL_SUBSETS = ("random", "first")
# What the sleep phase trains q(z|x) on, for a Bernoulli decoder: "binary", draws x ~ p(x|z)
# (what the sleep phase needs: q learns p(z|x) from them), or "means", the decoder's means, grey
# like the data but noise-free, so z is a function of x and q's variance collapses (a side run of
# chapter 12 shows the bound falling). Frey Face's Gaussian fantasies are always draws.
SLEEP_FANTASIES = ("binary", "means")
# Settings that are not part of a run's identity for a method (wake-sleep's alone, for AEVB).
IRRELEVANT = {"aevb": ("sleep_fantasies",), "wake-sleep": ()}


@dataclass(frozen=True)
class PaperSetup:
    """The architecture the paper used for one data set (its Appendix C), kept apart from the
    training settings: `AEVBConfig.model_spec` builds it for any latent size."""

    hidden_dim: int
    likelihood: str
    image_shape: tuple[int, int, int]
    latent_dims: tuple[int, ...]


PAPER = {
    "mnist": PaperSetup(500, "bernoulli", (1, 28, 28), (3, 5, 10, 20, 200)),
    "frey": PaperSetup(200, "gaussian", (1, 28, 20), (2, 5, 10, 20)),
}


@dataclass(frozen=True)
class AEVBConfig:
    """One run of the Figure 2 experiment: a learning curve per latent size.

    Adagrad on minibatches of M = 100, one sample per datapoint, a N(0, I) prior on the
    parameters (weight decay 1/N) and weights initialised from N(0, init_std^2); the bound is
    evaluated at log-spaced sample counts (`per_decade` points per factor of ten from `first`).
    Explained in `book/12_aevb.ipynb`.
    """

    dataset: str = setting("mnist", "--dataset", help="data set", choices=tuple(PAPER),
                           required=True)
    latent_dims: tuple[int, ...] | None = setting(
        None, "--latent-dims", help="default: the paper's (3 5 10 20 200 / 2 5 10 20)", low=1
    )
    samples: int = setting(500_000, "--samples", help="training samples per curve", low=100,
                           high=MAX_SAMPLES)
    lr: float = setting(0.01, "--lr", help="Adagrad step size (paper: 0.01, 0.02 or 0.1)",
                        above=0)
    seed: int = setting(0, "--seed", help="random seed", low=0, high=2**63 - 1)
    eval_train: int = setting(10_000, "--eval-train", help="training images evaluated",
                              low=1, high=60_000)
    eval_test: int = setting(10_000, "--eval-test", help="test images evaluated", low=1,
                             high=10_000)
    eval_subset: str = setting("random", "--eval-subset", choices=EVAL_SUBSETS,
                               help="random: seeded random subsets drawn alike (first: legacy)")
    first: int = setting(1000, "--first", help="first evaluation point (samples)", low=100)
    per_decade: int = setting(4, "--per-decade", help="evaluation points per decade", low=1,
                              high=100)
    init_std: float = setting(INIT_STD, "--init-std", help="std of the initial weights",
                              above=0)
    threads: int = setting(1, "--threads", help="torch threads (fixes the sums' order)", low=1,
                           high=MAX_THREADS)
    method: str = setting("aevb", "--method", help="aevb, or the wake-sleep baseline",
                          choices=METHODS)
    sleep_fantasies: str = setting("binary", "--sleep-fantasies", choices=SLEEP_FANTASIES,
                                   help="wake-sleep's MNIST fantasies: binary draws, or means")

    def __post_init__(self) -> None:
        check_config(self)
        if self.latent_dims is not None:
            object.__setattr__(self, "latent_dims", tuple(dict.fromkeys(self.latent_dims)))
        if self.first > self.samples:
            raise ValueError(f"--first ({self.first}) must not exceed --samples ({self.samples})")

    @property
    def setup(self) -> PaperSetup:
        """The paper's architecture for this data set."""
        return PAPER[self.dataset]

    @property
    def sizes(self) -> tuple[int, ...]:
        """The latent sizes to run: the given ones, else the paper's."""
        return self.latent_dims or self.setup.latent_dims

    def model_spec(self, latent_dim: int) -> dict[str, Any]:
        """What `build_model` needs for the paper's tanh MLP with `latent_dim` latent units."""
        setup = self.setup
        return {"kind": "mlp", "latent_dim": latent_dim, "hidden_dim": setup.hidden_dim,
                "image_shape": list(setup.image_shape), "activation": "tanh",
                "likelihood": setup.likelihood}

    def command_line(self, out: str) -> str:
        """The command line that reproduces this run, every setting spelled out (chapter 12)."""
        full = AEVBConfig(**{**asdict(self), "latent_dims": self.sizes})
        return f"{command_line('python -m vae_lib aevb', full)} --out {shlex.quote(str(out))}"


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that make two runs the same run, which --resume compares: the config without
    the latent sizes and sample count (extending a curve is a resume) and without what its method
    ignores."""
    ignored = ("latent_dims", "samples", *IRRELEVANT.get(config.get("method", "aevb"), ()))
    return {k: v for k, v in config.items() if k not in ignored}


def config_from_manifest(manifest: dict[str, Any]) -> AEVBConfig:
    """The config a results folder was made with, as its manifest records it (chapter 12).

    Every committed manifest stores its config; the command line is never parsed back.
    """
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise ValueError("the manifest records no config: not a results folder of this"
                         " command")
    try:
        stored = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in manifest["config"].items()}
        return AEVBConfig(**stored)
    except TypeError as err:
        raise ValueError(f"the manifest's config does not fit AEVBConfig: {err}") from None
