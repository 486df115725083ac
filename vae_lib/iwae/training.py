"""Training and evaluating Burda et al.'s model: L_k, the staged schedule, resumable state.

A run is deterministic given its config: the global generator draws the z noise, one
generator shuffles and one binarizes, and all three states go into the checkpoint with the
model and Adam's moments, so a resumed run continues bit for bit. The test set is binarized
once with a fixed seed, and the test bound uses its own fixed noise, outside the training
stream. Explained in `book/13_log_likelihood.ipynb`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..checks import check_diverged, inputs_checked
from ..device import torch_threads
from ..evaluation import describe_subset, mean_se, random_subset, separate_noise, sum_of_products
from ..models import build_model
from ..objectives import iwae_bound, sampled_log_weights
from ..runkit.state import generator_states, read_run, restore_generators
from .config import ADAM, IWAEConfig, schedule

TEST_BINARIZATION_SEED = 0  # the same binarized test set for every run
EVAL_NOISE_SEED = 1  # the noise of the test bound L_K


def iwae_objective(model: nn.Module, x: Tensor, k: int) -> Tensor:
    """L_k per image, with gradients: log of the mean of k importance weights p(x,z)/q(z|x).

    k = 1 is the ELBO with a sampled KL term, the VAE of Burda et al.'s Table 1. The same
    weights as `objectives.iwae_bound`, which evaluates without gradients.
    """
    mu, logvar = model.encode(x)
    weights = sampled_log_weights(model.log_likelihood, x, mu, logvar, k)
    return torch.logsumexp(weights, dim=0) - math.log(k)


@torch.no_grad()
def nll_per_image(model: nn.Module, images: Tensor, k: int = 5000, seed: int = EVAL_NOISE_SEED,
                  batch: int = 20) -> Tensor:
    """-L_K of each image (nats), with noise from seed `seed`; the training stream's random
    state is left as it was. Table 1's test NLL is their mean (`test_nll`)."""
    was_training = model.training
    model.eval()
    out = []
    with separate_noise("cpu", seed):
        for start in range(0, images.shape[0], batch):
            out.append(-iwae_bound(model, images[start : start + batch], k, chunk=250))
    model.train(was_training)
    return torch.cat(out).double()


def test_nll(model: nn.Module, images: Tensor, k: int = 5000, seed: int = EVAL_NOISE_SEED,
             batch: int = 20) -> float:
    """-L_K averaged over `images` (nats): the mean of `nll_per_image` (chapter 13)."""
    return float(nll_per_image(model, images, k, seed, batch).mean())


def evaluation_row(model: nn.Module, images: Tensor, n: int, k: int, prefix: str,
                   binarize: bool = False) -> dict:
    """-L_k on a seeded random n-subset of `images` (`vae_lib.evaluation`), with its standard
    error between images, as the columns `<prefix>_images`, `_subset`, `_nll`, `_nll_se`.
    `binarize` binarizes the subset once (the training images are grey)."""
    subset = random_subset(images, n)
    values = nll_per_image(model, binarized_once(subset) if binarize else subset, k)
    est = mean_se(values)
    return {f"{prefix}_images": values.numel(),
            f"{prefix}_subset": describe_subset(images.shape[0], n),
            f"{prefix}_nll": est.mean, f"{prefix}_nll_se": est.se}


def binarized_once(images: Tensor) -> Tensor:
    """`images` binarized with the fixed seed TEST_BINARIZATION_SEED, so every evaluation of
    every run sees the same binary test set."""
    return torch.bernoulli(images, generator=torch.Generator().manual_seed(
        TEST_BINARIZATION_SEED))


def load_mnist(config: IWAEConfig) -> tuple[Tensor, Tensor]:
    """Grey training images (binarized afresh every minibatch) and the binarized test set.

    The test images are binarized once, with seed TEST_BINARIZATION_SEED (`binarized_once`).
    """
    from ..data import load_dataset

    train = load_dataset("mnist", "train").images[: config.train_size]
    test = load_dataset("mnist", "test").images
    return train, binarized_once(test)


def new_state(config: IWAEConfig) -> dict[str, Any]:
    """A fresh run: Glorot-initialised model (seeded), Adam, generators, empty curve."""
    torch.manual_seed(config.seed)
    model = build_model(config.model_spec())
    return {"model": model, "optimizer": torch.optim.Adam(model.parameters(), config.lr, **ADAM),
            "shuffle": torch.Generator().manual_seed(config.seed + 1),
            "binarize": torch.Generator().manual_seed(config.seed + 2),
            "stage": 0, "epoch_in_stage": 0, "epochs_total": 0, "rows": [],
            "wall_seconds": 0.0, "rng": torch.get_rng_state()}


def _epoch(config: IWAEConfig, state: dict[str, Any], train_images: Tensor) -> float:
    """One pass over the training set in shuffled minibatches; returns the mean L_k.

    The bound is summed as it goes, not read back every step; a loss that stopped being finite
    ends the run at the end of the pass (`check_diverged`).
    """
    model, opt = state["model"], state["optimizer"]
    n, sums = train_images.shape[0], []
    order = torch.randperm(n, generator=state["shuffle"])
    with inputs_checked():  # binary draws of checked grey images
        for start in range(0, n, config.batch_size):
            x = torch.bernoulli(train_images[order[start : start + config.batch_size]],
                                generator=state["binarize"])
            bound = iwae_objective(model, x, config.k)
            opt.zero_grad(set_to_none=True)
            (-bound.mean()).backward()
            opt.step()
            sums.append(bound.detach().sum())
    total = sum_of_products(sums, [1] * len(sums))
    check_diverged(torch.tensor(total), f"in pass {state['epochs_total'] + 1}")
    return total / n


def train(config: IWAEConfig, state: dict[str, Any], data: tuple[Tensor, Tensor],
          save: Callable[[dict[str, Any], bool], None], log: Callable[[str], None] = print,
          stop_after_passes: int | None = None) -> dict[str, Any]:
    """Run the schedule from where `state` stands; `save(state, stage_done)` checkpoints.

    Saves every `checkpoint_every` passes and after each stage (with its test NLL row).
    `stop_after_passes` stops early, as an interruption would (the resume tests). Explained
    in `book/13_log_likelihood.ipynb`.
    """
    train_images, test_images = data
    started, done = time.perf_counter(), 0
    wall = lambda: state["wall_seconds"] + time.perf_counter() - started  # noqa: E731
    with torch_threads(config.threads):
        torch.set_rng_state(state["rng"])
        stages = schedule(config)
        while state["stage"] < len(stages):
            stage = state["stage"]
            passes, lr = stages[stage]
            for group in state["optimizer"].param_groups:
                group["lr"] = lr
            while state["epoch_in_stage"] < passes:
                if stop_after_passes is not None and done >= stop_after_passes:
                    return state
                state["last_objective"] = _epoch(config, state, train_images)
                state["epoch_in_stage"] += 1
                state["epochs_total"] += 1
                done += 1
                log(f"stage {stage} pass {state['epoch_in_stage']}/{passes}: train L_{config.k}"
                    f" {state['last_objective']:.3f} ({wall():.0f} s)")
                if state["epoch_in_stage"] % config.checkpoint_every == 0:
                    _snapshot(state, wall())
                    save(state, False)
            last = stage == len(stages) - 1
            n_test = config.final_test_images if last else config.stage_test_images
            row = {"stage": stage, "lr": lr, "passes": passes,
                   "epochs_total": state["epochs_total"],
                   "train_objective": state["last_objective"], "test_k": config.eval_k,
                   **evaluation_row(state["model"], test_images, n_test, config.eval_k, "test")}
            if last:  # the train-test gap, on training images drawn and binarized alike
                row.update(evaluation_row(state["model"], train_images, n_test, config.eval_k,
                                          "train", binarize=True))
            state["rows"].append({**row, "wall_seconds": wall()})
            log(f"stage {stage} done: test NLL (-L_{config.eval_k}, {row['test_subset']} test"
                f" images) {row['test_nll']:.3f} ± {row['test_nll_se']:.3f}")
            state["stage"], state["epoch_in_stage"] = stage + 1, 0
            _snapshot(state, wall())
            save(state, True)
    return state


def _snapshot(state: dict[str, Any], wall_seconds: float) -> None:
    state["rng"], state["saved_wall_seconds"] = torch.get_rng_state(), wall_seconds


def state_payload(config: IWAEConfig, state: dict[str, Any]) -> dict[str, Any]:
    """What the resume checkpoint stores besides the weights (plain data and tensors)."""
    return {"iwae_config": asdict(config), "optimizer": state["optimizer"].state_dict(),
            "rng": {**generator_states(shuffle=state["shuffle"], binarize=state["binarize"]),
                    "global": state["rng"]},
            "stage": state["stage"], "epoch_in_stage": state["epoch_in_stage"],
            "epochs_total": state["epochs_total"], "rows": state["rows"],
            "last_objective": state.get("last_objective"),
            "wall_seconds": state["saved_wall_seconds"]}


RESUMABLE = ("optimizer", "rng", "stage", "epoch_in_stage", "epochs_total", "rows")


def restore_state(config: IWAEConfig, path: Path) -> dict[str, Any]:
    """The state a resume checkpoint holds, checked against `config`, ready for `train`.

    A checkpoint made with other settings is refused (`vae_lib.runkit.state`): it would not
    continue the run that was started.
    """
    state = new_state(config)
    extras = read_run(path, state["model"], "iwae_config", asdict(config), RESUMABLE)
    state["optimizer"].load_state_dict(extras["optimizer"])
    restore_generators(extras["rng"], shuffle=state["shuffle"], binarize=state["binarize"])
    state["rng"] = extras["rng"]["global"]
    for key in ("stage", "epoch_in_stage", "epochs_total", "rows", "last_objective",
                "wall_seconds"):
        state[key] = extras.get(key)
    return state
