"""The settings of Burda et al.'s one-stochastic-layer MNIST run as one dataclass.

The command's flags come from the fields (`vae_lib.config.setting`), the manifest stores the
config, and a run resumes only with the config it started with. Explained in
`book/13_log_likelihood.ipynb`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from ..config import check_config, command_line, setting

ADAM = {"betas": (0.9, 0.999), "eps": 1e-4}  # Burda et al., Section 5
MAX_STAGES = 8  # i = 0 ... 7: 3,280 passes in all


@dataclass(frozen=True)
class IWAEConfig:
    """One training run: 3^i passes at lr * 10^(-i/7) for i < stages, Adam, L_k objective.

    k = 1 trains the VAE row of Table 1, k > 1 the IWAE rows. The test NLL is -L_eval_k on the
    first `stage_test_images` binarized test images after every stage but the last, and on the
    first `final_test_images` after the last. The paper's recipe beside
    this one: experiments/iwae/README.md, 'The recipe'.
    """

    k: int = setting(1, "--k", help="samples in the training bound L_k (1: the VAE)", low=1)
    batch_size: int = setting(20, "--batch-size", help="minibatch size (paper: 20)", low=1)
    stages: int = setting(MAX_STAGES, "--stages", help="stages i = 0 .. stages-1", low=1)
    lr: float = setting(1e-3, "--lr", help="step size of stage 0", above=0)
    seed: int = setting(0, "--seed", help="random seed", low=0)
    train_size: int | None = setting(None, "--train-size", help="first N training images",
                                     low=1)
    eval_k: int = setting(5000, "--eval-k", help="K of the test bound L_K", low=1)
    stage_test_images: int = setting(1000, "--stage-test-images",
                                     help="test images evaluated after each stage", low=1)
    final_test_images: int = setting(10_000, "--final-test-images",
                                     help="test images evaluated after the last stage", low=1)
    checkpoint_every: int = setting(10, "--checkpoint-every",
                                    help="also checkpoint every N passes within a stage", low=1)
    threads: int = setting(1, "--threads", help="torch threads (fixes the sums' order)", low=1)

    def __post_init__(self) -> None:
        check_config(self)
        if self.stages > MAX_STAGES:
            raise ValueError(f"--stages must be <= {MAX_STAGES}, got {self.stages}")
        if self.stage_test_images > 10_000 or self.final_test_images > 10_000:
            raise ValueError("MNIST has 10,000 test images; ask for at most that many")

    def model_spec(self) -> dict[str, Any]:
        """784-200-200-50 with tanh, mirrored decoder (`vae_lib.models.DeepVAE`)."""
        return {"kind": "deep", "latent_dim": 50, "hidden_dims": [200, 200],
                "image_shape": [1, 28, 28], "activation": "tanh"}

    def command_line(self, out: str) -> str:
        """The command line that reproduces this run, every setting spelled out (the manifest's
        "command")."""
        return f"{command_line('python -m vae_lib iwae train', self)} --out {shlex.quote(str(out))}"


def schedule(config: IWAEConfig) -> list[tuple[int, float]]:
    """(passes, learning rate) of each stage: 3^i passes at lr * 10^(-i/7) (chapter 13)."""
    return [(3**i, config.lr * 10 ** (-i / 7)) for i in range(config.stages)]
