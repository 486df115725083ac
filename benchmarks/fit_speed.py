"""Training speed of `vae_lib.fit` on whatever device this machine has: steps/s, epoch time.

Trains chapter 8's MLP VAE (784-400-20, minibatch 128) and chapter 9's convolutional VAE
(32x32, minibatch 128) on a seeded random subset of MNIST for one epoch each and prints, per
model, the device, the torch threads, the steps per second and the seconds per epoch of the
full 60,000-image training set (scaled from the subset). Used to check that the training loop
does not get slower (run it before and after a change, on the same machine, and compare the
ratio) and to choose the thread policy (`benchmarks/threads.py`).

    python benchmarks/fit_speed.py [--images 12800] [--models mlp conv]
"""

from __future__ import annotations

import argparse
import time

import torch

import vae_lib
from vae_lib.evaluation import random_subset

MODELS = {"mlp": lambda: vae_lib.MLPVAE(latent_dim=20), "conv": lambda: vae_lib.ConvVAE(16)}
BATCH = 128
FULL_EPOCH = 60_000


def images_for(kind: str, n: int) -> torch.Tensor:
    """A seeded random n of MNIST's training images, 32x32 for the conv model."""
    size = 32 if kind == "conv" else None
    return random_subset(vae_lib.load_dataset("mnist", "train", size=size).images, n)


def time_one_epoch(kind: str, images: torch.Tensor) -> float:
    """Seconds for one epoch of `fit` on `images` (the test pass on 256 images included)."""
    torch.manual_seed(0)
    model = MODELS[kind]()
    vae_lib.fit(model, images[:BATCH], images[:BATCH], epochs=1, quiet=True)  # warm-up
    started = time.perf_counter()
    vae_lib.fit(model, images, images[:256], epochs=1, batch_size=BATCH, quiet=True)
    if vae_lib.pick_device().type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12_800)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    device = vae_lib.pick_device()
    for kind in args.models:
        seconds = time_one_epoch(kind, images_for(kind, args.images))
        steps = -(-args.images // BATCH)
        print(f"{kind}: device {device.type}, {torch.get_num_threads()} thread(s),"
              f" {steps / seconds:.1f} steps/s, {seconds * FULL_EPOCH / args.images:.1f} s per"
              f" 60,000-image epoch", flush=True)


if __name__ == "__main__":
    main()
