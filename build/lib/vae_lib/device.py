"""Where tensors live and how many CPU threads torch uses. Nothing requires a GPU.

The policy, stated once: every model the library hands back (trained now, loaded from the run
cache, loaded from a checkpoint) sits on `pick_device()`, and every library function moves its
inputs to `model_device(model)`. Chapters do the same with their own tensors.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
from torch import nn


def pick_device() -> torch.device:
    """`cuda`, then `mps`, else `cpu`; the environment variable VAE_DEVICE overrides.

    Explained in `book/08_training.ipynb` (where the training data goes).
    """
    wanted = os.environ.get("VAE_DEVICE")
    if wanted:
        try:
            return torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(f"VAE_DEVICE={wanted!r} is not a torch device: {err}") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model: nn.Module) -> torch.device:
    """The device a model's parameters (or, lacking any, its buffers) sit on.

    The one answer to "where must my tensors go?"; used by every function that feeds a model,
    as in `book/10_latent_space.ipynb`.
    """
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with `n` intra-op threads (None: leave it), then restore the old count.

    A fixed thread count fixes the order of floating-point sums on the CPU, which is what makes
    a rerun match committed curves bit for bit (`book/12_aevb.ipynb`); one thread is also the
    fastest way to train a small MLP on a shared CPU (`book/13_log_likelihood.ipynb`).
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
