"""The training loop of Figure 2's curves, resumable from a checkpoint at every point.

At every evaluation point the loop hands `on_checkpoint` everything a resumed run needs: the
optimizer state(s), the global generator (the reparameterization and wake-sleep noise), the
shuffling generator, the current permutation and the position in it, the samples seen and the
curve so far. A run resumed from there continues bit for bit as if it had never stopped.
Explained in `book/12_aevb.ipynb`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from ..checks import check_diverged, check_pixels, inputs_checked
from ..device import pick_device, torch_threads
from ..evaluation import mean_se
from ..models import MLPVAE
from .config import BATCH_SIZE, AEVBConfig
from .experiment import (
    CurvePoint,
    Data,
    bounds_per_image,
    evaluation_points,
    load_data,
    paper_model,
)
from .wake_sleep import AEVBStep, WakeSleep


def train_curve(
    model: nn.Module,
    data: Data,
    points: Sequence[int],
    lr: float,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    on_point: Callable[[list[CurvePoint]], None] | None = None,
    method: str = "aevb",
    resume: dict[str, Any] | None = None,
    on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
    sleep_fantasies: str = "binary",
) -> list[CurvePoint]:
    """Train with Adagrad on minibatches (AEVB or wake-sleep), evaluating both bounds at `points`.

    AEVB follows minus the one-sample ELBO of the minibatch; wake-sleep alternates its two
    phases (`vae_lib.aevb.wake_sleep`). The weight decay 1 / N is the gradient of a N(0, I)
    prior on the parameters for N training images. After each evaluation the state goes to
    `on_checkpoint(state)`, then the curve to `on_point(curve)` (the command rewrites its CSV
    there). `resume` is such a state, with the model's weights already loaded. Raises
    FloatingPointError if the loss stops being finite. `one_curve` calls it with the paper's model.
    """
    points = sorted(set(int(p) for p in points))
    if not points or points[0] < 1:
        raise ValueError("points must be positive sample counts")
    check_pixels(data.train, "training images")  # once: the steps below trust them
    n = data.train.shape[0]
    learner = (WakeSleep(model, lr, 1.0 / n, sleep_fantasies) if method == "wake-sleep"
               else AEVBStep(model, lr, 1.0 / n))
    shuffle = torch.Generator()
    if resume is None:
        torch.manual_seed(seed)
        shuffle.manual_seed(seed)
        order, position, seen, curve, wall = None, n, 0, [], 0.0
    else:
        learner.load_state_dict(resume["learner"])
        torch.set_rng_state(resume["rng_global"])
        shuffle.set_state(resume["rng_shuffle"])
        order, position, seen = resume["order"], resume["position"], resume["seen"]
        curve = [CurvePoint(**p) for p in resume["curve"]]
        wall = resume["wall_seconds"]
    model.train()
    started = time.perf_counter()
    targets = [p for p in points if p > seen]
    since_point = torch.zeros(())  # the losses since the last point, checked there
    while targets:
        if position >= n:
            order, position = torch.randperm(n, generator=shuffle), 0
        x = data.train[order[position : position + batch_size]]
        position += batch_size
        with inputs_checked():  # the data set was checked when it was loaded
            since_point += learner.step(x)
        seen += x.shape[0]
        if seen < targets[0]:
            continue
        check_diverged(since_point, f"(after {seen} samples)")
        since_point.zero_()
        targets.pop(0)
        elapsed = wall + time.perf_counter() - started
        train_b = mean_se(bounds_per_image(model, data.eval_train, seed + 1))
        test_b = mean_se(bounds_per_image(model, data.eval_test, seed + 2))
        curve.append(CurvePoint(seen, train_b.mean, test_b.mean, elapsed, train_b.se,
                                test_b.se))
        if on_checkpoint is not None:
            on_checkpoint({"learner": learner.state_dict(), "rng_global": torch.get_rng_state(),
                           "rng_shuffle": shuffle.get_state(), "order": order,
                           "position": position, "seen": seen, "method": method,
                           "curve": [asdict(p) for p in curve], "wall_seconds": elapsed})
        if on_point is not None:
            on_point(curve)
    model.eval()
    return curve


def one_curve(
    config: AEVBConfig,
    latent_dim: int,
    points: Sequence[int] | None = None,
    data: Data | None = None,
    on_point: Callable[[list[CurvePoint]], None] | None = None,
    resume: dict[str, Any] | None = None,
    on_checkpoint: Callable[[dict[str, Any]], None] | None = None,
    model: MLPVAE | None = None,
) -> tuple[MLPVAE, list[CurvePoint]]:
    """One curve of Figure 2: build the paper's model, train it, return (model, curve).

    This is what the command runs for each latent size and what `book/12_aevb.ipynb` reruns
    for its consistency check (with a prefix of the points), so both use exactly the same settings.
    Training runs on the CPU with `config.threads` threads, which makes it repeat bit for bit;
    the model is returned on `pick_device()`, like every model the library returns.
    `config.method` picks AEVB or wake-sleep; `resume` (a checkpoint's state, with `model`
    holding its weights) continues a stopped curve (`train_curve`).
    """
    data = data if data is not None else load_data(config)
    points = points if points is not None else evaluation_points(config)
    with torch_threads(config.threads):
        model = model if model is not None else paper_model(config, latent_dim)
        curve = train_curve(model, data, points, config.lr, config.seed, on_point=on_point,
                            method=config.method, resume=resume, on_checkpoint=on_checkpoint,
                            sleep_fantasies=config.sleep_fantasies)
    return model.to(pick_device()), curve
