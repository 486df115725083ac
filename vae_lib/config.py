"""One dataclass per kind of run, in the style of nanoGPT's `GPTConfig`.

`VAEConfig` describes a chapter's VAE run (chapters 8-11 and 13): which data, which model, how
it is trained. Everything else is derived from it: the model (`VAEConfig.model_spec` ->
`vae_lib.models.build_model`), the run cache's key (`vae_lib.runs`), the command line's flags
(`python -m vae_lib train`, `vae_lib.commands`) and the command printed to reproduce a run.
The paper experiment has its own, `vae_lib.aevb.config.AEVBConfig`.

Each field's `metadata` holds its command-line flags, help and range; `check_config` checks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from .data import DATASETS, LIKELIHOOD

MODELS = ("mlp", "conv")


def setting(default: Any, *names: str, help: str, low: float | None = None,
            above: float | None = None, high: float | None = None, choices: tuple = (),
            required: bool = False) -> Any:
    """A config field with its command-line flags, help, and range (>= low or > above, <= high).

    The fields of `VAEConfig`, `IWAEConfig` and `AEVBConfig` (chapter 12 shows one) are made
    with it, so a default, a range and a flag are written once.

    `required` makes the flag compulsory on the command line (the library keeps the default).
    """
    meta = {"flags": names, "help": help, "low": low, "above": above, "high": high,
            "choices": choices, "required": required}
    return field(default=default, metadata=meta)


def check_config(config: Any) -> None:
    """Reject values outside a field's range or choices, with the flag's name, in one line.

    Called by every config's `__post_init__`, so a bad setting fails before any work starts,
    from the command line or from Python alike.
    """
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        name = meta["flags"][-1] if meta.get("flags") else f.name
        if meta.get("choices") and value not in meta["choices"]:
            raise ValueError(f"{name} must be one of {', '.join(meta['choices'])}, got {value!r}")
        low, above, high = meta.get("low"), meta.get("above"), meta.get("high")
        if value is None or (low is None and above is None):
            continue
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v}")
            if low is not None and v < low:
                raise ValueError(f"{name} must be >= {low:g}, got {v}")
            if above is not None and v <= above:
                raise ValueError(f"{name} must be > {above:g}, got {v}")
            if high is not None and v > high:
                raise ValueError(f"{name} must be <= {high:g}, got {v}")


def command_line(prog: str, config: Any) -> str:
    """The command that reproduces a run, every setting spelled out: what a manifest stores as
    its "command", so a default changed later does not change what the command meant."""
    words = [prog]
    for f in fields(config):
        value = getattr(config, f.name)
        long_name = f.metadata["flags"][-1]
        if isinstance(value, bool):
            words += [long_name] if value else []
        elif isinstance(value, tuple):
            words += [long_name, *map(str, value)]
        elif value is not None:
            words += [long_name, f"{value:g}" if isinstance(value, float) else str(value)]
    return " ".join(words)


@dataclass(frozen=True)
class VAEConfig:
    """A VAE run as the chapters train it: Adam on minibatches of the negative ELBO.

    What a chapter's `cached_vae(**settings)` builds (CONTRIBUTING.md, 'Notebooks'), and the
    flags of `python -m vae_lib train`. train_size / test_size keep a seeded random subset
    of each split (the quick setting; `vae_lib.evaluation`, never the first N); after every
    epoch the model is evaluated on a seeded random `track_size` of the training images (0:
    not at all), and with frames > 0 the first `frames` test images are reconstructed through
    their posterior means (an animation's frames: a picture, not a held-out number).
    """

    dataset: str = setting("mnist", "--dataset", help="data set", choices=DATASETS)
    model: str = setting("mlp", "--model", help="encoder/decoder kind", choices=MODELS)
    latent_dim: int = setting(20, "-n", "--latent-dim", help="latent units J", low=1,
                        high=4096)
    hidden_dim: int = setting(400, "--hidden-dim", help="hidden units (mlp)", low=1,
                        high=65536)
    epochs: int = setting(10, "-e", "--epochs", help="passes over the training set", low=0,
                        high=100_000)
    batch_size: int = setting(128, "-b", "--batch-size", help="minibatch size", low=1)
    lr: float = setting(1e-3, "-lr", "--learning-rate", help="Adam step size", above=0)
    beta: float = setting(1.0, "--beta", help="weight of the KL term", low=0.0,
                         high=1e6)
    size: int | None = setting(None, "--size", help="resize images to size x size",
                               low=4, high=512)
    train_size: int | None = setting(None, "--train-size", low=1,
                                     help="a seeded random N of the training images")
    test_size: int | None = setting(None, "--test-size", low=1,
                                    help="a seeded random N of the test images")
    track_size: int = setting(10_000, "--track-size", help="training images evaluated", low=0)
    frames: int = setting(0, "--frames", help="test images reconstructed per epoch",
                         low=0, high=1000)
    binarize: bool = setting(False, "--binarize", help="dynamically binarize the images")
    seed: int = setting(0, "--seed", help="random seed", low=0, high=2**63 - 1)

    def __post_init__(self) -> None:
        check_config(self)
        if self.model == "conv" and self.dataset == "frey":
            raise ValueError("the conv model needs square images; use --model mlp for frey")

    @property
    def image_size(self) -> int | None:
        """The conv VAE reads 32 x 32 images; None keeps the data set's own size."""
        return 32 if self.model == "conv" and self.size is None else self.size

    @property
    def likelihood(self) -> str:
        """The decoder's distribution, fixed by the data set (`vae_lib.data.LIKELIHOOD`)."""
        return LIKELIHOOD[self.dataset]

    def model_spec(self, image_shape: tuple[int, ...]) -> dict[str, Any]:
        """What `build_model` needs, for images of `image_shape` (channels, height, width)."""
        if self.model == "conv":
            return {"kind": "conv", "latent_dim": self.latent_dim, "in_channels": image_shape[0]}
        return {
            "kind": "mlp",
            "latent_dim": self.latent_dim,
            "hidden_dim": self.hidden_dim,
            "image_shape": list(image_shape),
            "likelihood": self.likelihood,
        }

    def name(self) -> str:
        """A short readable name for cache files: dataset-model+latent, beta when not 1."""
        beta = f"-beta{self.beta:g}" if not math.isclose(self.beta, 1.0) else ""
        binary = "-binarized" if self.binarize else ""
        return f"{self.dataset}-{self.model}{self.latent_dim}{beta}{binary}"
