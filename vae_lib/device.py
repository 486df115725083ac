"""Where tensors live: the GPU when there is one, else the CPU. Nothing requires a GPU."""

from __future__ import annotations

import os

import torch


def pick_device() -> torch.device:
    """`cuda`, then `mps`, else `cpu`; the environment variable VAE_DEVICE overrides."""
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
