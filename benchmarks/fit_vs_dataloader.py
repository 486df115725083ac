"""How much faster is `vae_lib.fit` than the usual DataLoader + ToTensor training loop?

Trains the classic model (784-400-20-400-784, Adam 1e-3, batch 128) on MNIST for the same
number of epochs twice in one process: once with `fit` (the data set as one tensor on the
device), once with a torchvision DataLoader that converts each image through PIL and
`transforms.ToTensor()`, as the classic PyTorch example does. Prints both times, both final
test losses (nats per image) and, last, `speedup <ratio>`.

    python benchmarks/fit_vs_dataloader.py [--epochs 10] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

import vae_lib
from vae_lib.data import data_root


def dataloader_baseline(epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    """The classic loop: per-image PIL -> ToTensor, collated into batches by a DataLoader."""
    torch.manual_seed(seed)
    device = vae_lib.pick_device()
    root = str(data_root())
    to_tensor = transforms.ToTensor()
    train = datasets.MNIST(root, train=True, download=True, transform=to_tensor)
    test = datasets.MNIST(root, train=False, download=True, transform=to_tensor)
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=True)
    test_loader = DataLoader(test, batch_size=batch_size)
    model = vae_lib.MLPVAE(latent_dim=20).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for x, _ in train_loader:
            x = x.to(device)
            loss = -vae_lib.elbo(model, x).total.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, _ in test_loader:
                total -= vae_lib.elbo(model, x.to(device)).total.sum().item()
        test_loss = total / len(test)
    return time.perf_counter() - started, test_loss


def with_fit(epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    """The same training through `vae_lib.fit`, loading included in the time."""
    torch.manual_seed(seed)
    started = time.perf_counter()
    train, test = vae_lib.load_dataset("mnist", "train"), vae_lib.load_dataset("mnist", "test")
    model = vae_lib.MLPVAE(latent_dim=20)
    history = vae_lib.fit(
        model,
        train.images,
        test.images,
        epochs=epochs,
        batch_size=batch_size,
        lr=1e-3,
        seed=seed,
        quiet=True,
    )
    return time.perf_counter() - started, history[-1].test_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device {vae_lib.pick_device()}, torch {torch.__version__},"
        f" {torch.get_num_threads()} threads,"
        f" {args.epochs} epochs, batch {args.batch_size}"
    )
    fit_seconds, fit_loss = with_fit(args.epochs, args.batch_size, seed=0)
    print(f"fit         {fit_seconds:7.1f} s   test loss {fit_loss:.2f} nats/image")
    base_seconds, base_loss = dataloader_baseline(args.epochs, args.batch_size, seed=0)
    print(f"dataloader  {base_seconds:7.1f} s   test loss {base_loss:.2f} nats/image")
    print(f"speedup {base_seconds / fit_seconds:.2f}")


if __name__ == "__main__":
    main()
