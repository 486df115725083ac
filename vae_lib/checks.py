"""Checks at the library's boundary: one clear line for a bad argument, before any work starts.

A VAE fed grey values in 0-255, a NaN, or a negative beta does not crash: it returns a plausible
wrong number (a "loss" of -6632). These checks turn such input into a one-line `ValueError`
that says what was expected and what came instead (the cases: `tests/test_bad_input.py`).
Each costs one pass over the tensor and, on a GPU, a wait for its answer, so data is checked
once where it enters (`fit`, `evaluate`, the public objectives) and the loops after that run inside
`inputs_checked()`, where the models' own checks of pixel values are skipped.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from numbers import Integral, Real

import torch
from torch import Tensor

_CHECKED = contextvars.ContextVar("vae_lib_inputs_checked", default=False)


@contextlib.contextmanager
def inputs_checked() -> Iterator[None]:
    """Inside the block, data has been checked already: value checks are skipped.

    `fit` checks the whole training set once, then trains inside this block, so no minibatch
    pays for a min/max pass or a host sync. Shapes are still checked (they cost nothing).
    """
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


def check_finite(t: Tensor, what: str) -> Tensor:
    """`t` unchanged, or a ValueError if it holds NaN or infinite values: one line where the NaN
    enters, not a NaN loss some calls later."""
    if _CHECKED.get():
        return t
    if t.numel() and not bool(torch.isfinite(t).all()):
        bad = "NaN" if bool(torch.isnan(t).any()) else "infinite"
        raise ValueError(f"{what} contains {bad} values")
    return t


def check_pixels(x: Tensor, what: str = "images") -> Tensor:
    """`x` unchanged if every pixel is a finite grey value in [0, 1]; 0-255 gets a hint.

    One min/max pass; NaN and infinities show up in it too, so this is as cheap as an
    isfinite check alone.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a tensor, got {type(x).__name__}")
    if x.numel() == 0 or _CHECKED.get():
        return x
    lo, hi = (v.item() for v in torch.aminmax(x.detach().float()))
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"{what} contains NaN values")
    if lo < 0 or hi > 1:
        hint = " — divide by 255?" if 2 <= hi <= 255 and lo >= 0 else ""
        got = f"max {hi:g}" if hi > 1 else f"min {lo:g}"
        raise ValueError(f"{what}: pixels must lie in [0, 1]; got {got}{hint}")
    return x


def check_beta(beta: float) -> float:
    """The KL weight as a float, if it is a finite number >= 0: a negative beta would reward the
    KL term instead of charging for it."""
    if isinstance(beta, bool) or not isinstance(beta, Real) or not math.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    return float(beta)


def check_count(name: str, value: int, low: int = 1, high: int | None = None) -> int:
    """`value` if it is a whole number in [low, high]: sizes, batch sizes, sample counts.

    Used for every count the library takes (`evaluate`'s batch size, `iwae_bound`'s K, ...) so
    that -1 or 1e12 is refused instead of quietly giving 0.0 or running for ever.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_learning_rate(lr: float) -> float:
    """The step size, if it is a finite number > 0 (`fit`'s `lr`).

    Too large a finite one is not refused here: the run diverges and `fit` says so.
    """
    if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr < math.inf:
        raise ValueError(f"learning rate must be a finite number > 0, got {lr!r}")
    return float(lr)


def check_diverged(loss: Tensor, where: str, model: torch.nn.Module | None = None) -> None:
    """The one divergence guard of every training loop: a loss (or, given `model`, a weight)
    that is no longer finite ends the run with one line (`fit`, the Figure 2 curves of
    `vae_lib.aevb`, the schedule of `vae_lib.iwae`).

    Called once per epoch or evaluation point on losses summed on the device, not per step.
    """
    weights_finite = model is None or all(bool(torch.isfinite(p).all())
                                          for p in model.parameters())
    if not (bool(torch.isfinite(loss).all()) and weights_finite):
        bad = loss[~torch.isfinite(loss)] if not bool(torch.isfinite(loss).all()) else loss
        raise FloatingPointError(f"training diverged {where}: the loss became"
                                 f" {float(bad.reshape(-1)[0])}; try a smaller learning rate")


def check_labels(y: Tensor, n_labels: int, n: int | None = None) -> Tensor:
    """`y` as a long tensor of whole labels in 0..n_labels-1 (one per image when `n` is given):
    the conditional models' labels, refused in one line before they index a one-hot."""
    y = torch.as_tensor(y)
    if y.dim() != 1 or (n is not None and y.shape[0] != n):
        want = f"({n},)" if n is not None else "(n,)"
        raise ValueError(f"labels must have shape {want}, one per image, got {tuple(y.shape)}")
    if y.is_floating_point() and not _CHECKED.get() and bool((y != y.round()).any()):
        raise ValueError("labels must be whole numbers")
    y = y.long()
    if y.numel() and not _CHECKED.get() and (int(y.min()) < 0 or int(y.max()) >= n_labels):
        raise ValueError(f"labels must lie in 0..{n_labels - 1},"
                         f" got {int(y.min())}..{int(y.max())}")
    return y
