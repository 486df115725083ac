"""Kingma & Welling (2013), Section 5 and Appendix C, as a reproducible experiment.

`book/12_aevb.ipynb` explains it; `python -m vae_lib aevb ...` runs it. The paper trains MLP
VAEs with one tanh hidden layer (500 units for MNIST, 200 for Frey Face) by Adagrad on
minibatches of M = 100 with one sample per datapoint, a N(0, I) prior on the parameters (a
small weight decay) and weights initialised from N(0, 0.01), and plots the lower bound on a
training and a test set against the number of training samples seen (Figure 2).

Here every run is deterministic given its seed on a given CPU and thread count: the global
generator is seeded once per run (the reparameterization noise), a separate generator
shuffles, and the bound is evaluated on fixed subsets with its own fixed noise (the same
noise at every evaluation point, so the curves are not jagged by Monte Carlo error).
A run writes one CSV per latent size (samples_seen, train_bound, test_bound, wall_seconds)
after every evaluation point, atomically, so an interrupted run leaves valid partial curves.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .checkpoint import atomic_write_bytes, atomic_write_text
from .models import MLPVAE
from .objectives import gaussian_kl

BATCH_SIZE = 100  # M in the paper
STEP_SIZES = (0.01, 0.02, 0.1)  # the Adagrad global step sizes the paper chose from
# "N(0, 0.01)": read as a standard deviation of 0.01 (numpy's normal(0, 0.01) convention). Read
# as a variance (std 0.1), Frey Face's 2-d manifold comes out noisy and nearly one-dimensional.
INIT_STD = 0.01
CSV_COLUMNS = ("samples_seen", "train_bound", "test_bound", "wall_seconds")


@dataclass(frozen=True)
class PaperSetup:
    """The architecture the paper used for one data set."""

    hidden_dim: int
    likelihood: str
    image_shape: tuple[int, int, int]
    latent_dims: tuple[int, ...]


PAPER = {
    "mnist": PaperSetup(500, "bernoulli", (1, 28, 28), (3, 5, 10, 20, 200)),
    "frey": PaperSetup(200, "gaussian", (1, 28, 20), (2, 5, 10, 20)),
}


@dataclass(frozen=True)
class CurvePoint:
    """One evaluation: the mean lower bound per datapoint (nats) after `samples_seen` samples."""

    samples_seen: int
    train_bound: float
    test_bound: float
    wall_seconds: float


def _setup(dataset: str) -> PaperSetup:
    if dataset not in PAPER:
        raise ValueError(f"the paper's experiments use {' or '.join(PAPER)}, got {dataset!r}")
    return PAPER[dataset]


def paper_init_(model: nn.Module, std: float = INIT_STD, seed: int = 0) -> nn.Module:
    """Overwrite every weight and bias with draws from N(0, std^2), in place; returns the model.

    The draws come from their own generator seeded with `seed`, so the initial parameters do
    not depend on how many random numbers were used before.
    """
    if not std > 0:
        raise ValueError(f"init std must be > 0, got {std}")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * std)
    return model


def paper_model(dataset: str, latent_dim: int, seed: int = 0, init_std: float = INIT_STD) -> MLPVAE:
    """The paper's VAE for `dataset` ('mnist' or 'frey') with N(0, init_std^2) parameters."""
    setup = _setup(dataset)
    model = MLPVAE(
        latent_dim=latent_dim,
        hidden_dim=setup.hidden_dim,
        image_shape=setup.image_shape,
        activation="tanh",
        likelihood=setup.likelihood,
    )
    return paper_init_(model, init_std, seed)


def evaluation_points(
    max_samples: int, per_decade: int = 4, first: int = 1000, batch_size: int = BATCH_SIZE
) -> list[int]:
    """Log-spaced sample counts, multiples of the batch size, from `first` up to `max_samples`.

    `per_decade` points per factor of ten; `max_samples` itself is always the last point.
    """
    if per_decade < 1:
        raise ValueError(f"per_decade must be >= 1, got {per_decade}")
    if first < batch_size or max_samples < first:
        raise ValueError(
            f"need batch_size <= first <= max_samples, got {batch_size}, {first}, {max_samples}"
        )
    points: list[int] = []
    k = 0
    while True:
        value = first * 10 ** (k / per_decade)
        if value > max_samples * (1 + 1e-9):
            break
        rounded = int(round(value / batch_size)) * batch_size
        if not points or rounded > points[-1]:
            points.append(rounded)
        k += 1
    last = int(math.ceil(max_samples / batch_size)) * batch_size
    if points[-1] < last:
        points.append(last)
    return points


@torch.no_grad()
def lower_bound(model: nn.Module, images: Tensor, seed: int = 1, batch_size: int = 1000) -> float:
    """The mean one-sample ELBO per image in nats, with noise from a generator seeded `seed`.

    The same seed gives the same noise every time, so evaluating a model twice gives the same
    number and successive points of a learning curve differ only because the model changed.
    """
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size]
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=generator)
        z = mu + torch.exp(0.5 * logvar) * eps
        total += (model.log_likelihood(x, z) - gaussian_kl(mu, logvar)).sum().item()
    model.train(was_training)
    return total / images.shape[0]


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with `n` intra-op threads (None: leave it), then restore the old count.

    A fixed thread count fixes the order of floating-point sums on the CPU, which is what makes
    a rerun match the committed curves bit for bit on the same machine.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train_curve(
    model: nn.Module,
    train_images: Tensor,
    eval_train: Tensor,
    eval_test: Tensor,
    points: Sequence[int],
    lr: float,
    weight_decay: float,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    on_point: Callable[[list[CurvePoint]], None] | None = None,
) -> list[CurvePoint]:
    """Train with Adagrad on minibatches, evaluating both bounds at each of `points`.

    The loss is the negative one-sample ELBO averaged over the minibatch; `weight_decay`
    adds weight_decay * theta to every gradient, which is a N(0, I) prior on the parameters
    when weight_decay = 1 / N for N training images. `on_point(curve_so_far)` is called after
    each evaluation (the CLI rewrites its CSV there). Raises FloatingPointError if the loss
    stops being finite.
    """
    points = sorted(set(int(p) for p in points))
    if not points or points[0] < 1:
        raise ValueError("points must be positive sample counts")
    if not lr > 0:
        raise ValueError(f"learning rate must be > 0, got {lr}")
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    model.train()
    opt = torch.optim.Adagrad(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = train_images.shape[0]
    curve: list[CurvePoint] = []
    seen = 0
    started = time.perf_counter()
    next_point = iter(points)
    target = next(next_point)
    while target is not None:
        order = torch.randperm(n, generator=shuffle)
        for start in range(0, n, batch_size):
            x = train_images[order[start : start + batch_size]]
            mu, logvar = model.encode(x)
            z = model.reparameterize(mu, logvar)
            loss = -(model.log_likelihood(x, z) - gaussian_kl(mu, logvar)).mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} after {seen} samples; try a smaller step size"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += x.shape[0]
            if seen >= target:
                curve.append(
                    CurvePoint(
                        seen,
                        lower_bound(model, eval_train, seed + 1),
                        lower_bound(model, eval_test, seed + 2),
                        time.perf_counter() - started,
                    )
                )
                if on_point is not None:
                    on_point(curve)
                target = next(next_point, None)
                if target is None:
                    break
    model.eval()
    return curve


@dataclass(frozen=True)
class Data:
    """The training images and the fixed subsets the bounds are evaluated on."""

    train: Tensor
    eval_train: Tensor
    eval_test: Tensor


def load_data(dataset: str, eval_train: int = 5000, eval_test: int = 5000) -> Data:
    """The training set and the first `eval_train` / `eval_test` images of train and test.

    Frey Face has only 1765 training and 200 test frames, so its subsets are the whole splits.
    """
    from .data import load_dataset

    _setup(dataset)
    if eval_train < 1 or eval_test < 1:
        raise ValueError("evaluation subsets need at least one image")
    train = load_dataset(dataset, "train").images
    test = load_dataset(dataset, "test").images
    return Data(train, train[:eval_train].clone(), test[:eval_test].clone())


def weight_decay_for(n_train: int) -> float:
    """1 / N: with a per-datapoint loss this is exactly the gradient of a N(0, I) prior."""
    return 1.0 / n_train


def run(
    dataset: str,
    latent_dim: int,
    points: Sequence[int],
    lr: float,
    seed: int = 0,
    data: Data | None = None,
    threads: int | None = 1,
    init_std: float = INIT_STD,
    on_point: Callable[[list[CurvePoint]], None] | None = None,
) -> tuple[MLPVAE, list[CurvePoint]]:
    """One curve of Figure 2: build the paper's model, train it, return (model, curve).

    This is what the CLI runs for each latent size and what the chapter reruns for its
    consistency check, so both use exactly the same settings.
    """
    data = data if data is not None else load_data(dataset)
    with torch_threads(threads):
        model = paper_model(dataset, latent_dim, seed=seed, init_std=init_std)
        curve = train_curve(
            model,
            data.train,
            data.eval_train,
            data.eval_test,
            points,
            lr=lr,
            weight_decay=weight_decay_for(data.train.shape[0]),
            seed=seed,
            on_point=on_point,
        )
    return model, curve


# -- results files ---------------------------------------------------------------------------


def curve_path(folder: str | os.PathLike, dataset: str, latent_dim: int) -> Path:
    """Where the CLI writes the curve of one data set and latent size."""
    return Path(folder) / f"{dataset}_nz{latent_dim}.csv"


def curve_csv(curve: Sequence[CurvePoint]) -> str:
    """A curve as CSV text with the columns of `CSV_COLUMNS`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in curve:
        writer.writerow(
            [p.samples_seen, f"{p.train_bound:.4f}", f"{p.test_bound:.4f}", f"{p.wall_seconds:.2f}"]
        )
    return out.getvalue()


def read_curve(path: str | os.PathLike) -> list[CurvePoint]:
    """Read a curve the CLI wrote; raises ValueError if the columns are not ours."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise ValueError(f"{path}: expected columns {','.join(CSV_COLUMNS)}")
    return [CurvePoint(int(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in rows[1:]]


def load_results(
    folder: str | os.PathLike, dataset: str
) -> tuple[dict[str, Any], dict[int, list[CurvePoint]]]:
    """A results folder's manifest for `dataset` and its curves, keyed by latent size.

    Only the runs the manifest marks as finished are read, in the order they were run.
    """
    folder = Path(folder)
    path = folder / f"{dataset}_manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results for {dataset} in {folder} (looked for {path.name})")
    manifest = json.loads(path.read_text())
    curves = {
        int(nz): read_curve(folder / run["csv"])
        for nz, run in manifest["runs"].items()
        if run.get("finished")
    }
    return manifest, curves


def plot_curves(curves: dict[int, Sequence[CurvePoint]], title: str = "", ax: Any = None) -> Any:
    """Figure 2 of the paper: train (solid) and test (dashed) bound against samples, log axis.

    One colour per latent size; returns the Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    colours = plt.get_cmap("viridis")
    for i, (nz, curve) in enumerate(sorted(curves.items())):
        colour = colours(i / max(len(curves) - 1, 1))
        seen = [p.samples_seen for p in curve]
        ax.plot(seen, [p.train_bound for p in curve], color=colour, label=f"$N_z$ = {nz}")
        ax.plot(seen, [p.test_bound for p in curve], color=colour, linestyle="--")
    ax.set_xscale("log")
    ax.set_xlabel("training samples evaluated")
    ax.set_ylabel("lower bound per datapoint (nats)")
    ax.set_title(title + " (solid: train, dashed: test)" if title else "solid: train, dashed: test")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax.figure


def machine_description() -> dict[str, Any]:
    """CPU model, core count and library versions, for the provenance of a results folder."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def save_samples(model: MLPVAE, path: str | os.PathLike, n: int = 100, seed: int = 0) -> None:
    """Decode n codes from the prior (fixed seed) and save them as one PNG grid, atomically."""
    from .plots import grid_to_pil

    generator = torch.Generator().manual_seed(seed)
    picture = grid_to_pil(model.sample(n, generator=generator), ncols=10)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def command_line(args: Any, latent_dims: Sequence[int]) -> str:
    """The full command that reproduces a run, every setting spelled out."""
    return (
        f"python -m vae_lib aevb --dataset {args.dataset}"
        f" --latent-dims {' '.join(map(str, latent_dims))} --samples {int(args.samples)}"
        f" --lr {args.lr} --seed {args.seed} --eval-train {args.eval_train}"
        f" --eval-test {args.eval_test} --first {args.first} --per-decade {args.per_decade}"
        f" --init-std {args.init_std} --threads {args.threads} --out {args.out}"
    )


def command(args: Any) -> int:
    """`python -m vae_lib aevb`: train one curve per latent size and write the results folder.

    Writes `{dataset}_nz{N}.csv` (rewritten after every evaluation point),
    `{dataset}_nz{N}_samples.png` (100 prior samples at the end) and `{dataset}_manifest.json`
    (settings, machine, per-run wall time, whether each run finished).
    """
    dataset = args.dataset
    setup = _setup(dataset)
    latent_dims = list(dict.fromkeys(args.latent_dims or setup.latent_dims))
    lr = args.lr
    if args.first > args.samples:
        raise ValueError(f"--first ({args.first}) must not exceed --samples ({int(args.samples)})")
    points = evaluation_points(int(args.samples), per_decade=args.per_decade, first=args.first)
    out = Path(args.out)
    data = load_data(dataset, args.eval_train, args.eval_test)
    manifest: dict[str, Any] = {
        "dataset": dataset,
        "command": command_line(args, latent_dims),
        "settings": {
            "hidden_dim": setup.hidden_dim,
            "activation": "tanh",
            "likelihood": setup.likelihood,
            "batch_size": BATCH_SIZE,
            "samples_per_datapoint": 1,
            "optimizer": "adagrad",
            "lr": lr,
            "weight_decay": weight_decay_for(data.train.shape[0]),
            "init_std": args.init_std,
            "seed": args.seed,
            "threads": args.threads,
            "n_train": data.train.shape[0],
            "eval_train": data.eval_train.shape[0],
            "eval_test": data.eval_test.shape[0],
            "eval_points": points,
            "eval_noise_seeds": {"train": args.seed + 1, "test": args.seed + 2},
        },
        "machine": machine_description(),
        "runs": {},
    }
    manifest_path = out / f"{dataset}_manifest.json"

    def save_manifest() -> None:
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")

    save_manifest()
    for latent_dim in latent_dims:
        path = curve_path(out, dataset, latent_dim)
        manifest["runs"][str(latent_dim)] = {"csv": path.name, "finished": False}
        started = time.perf_counter()

        def write(curve: list[CurvePoint], path: Path = path) -> None:
            atomic_write_text(path, curve_csv(curve))

        try:
            model, curve = run(
                dataset, latent_dim, points, lr, args.seed, data, args.threads, args.init_std, write
            )
        except FloatingPointError as err:
            raise ValueError(f"{dataset}, N_z = {latent_dim}: {err}") from None
        save_samples(model, out / f"{dataset}_nz{latent_dim}_samples.png", seed=args.seed)
        seconds = time.perf_counter() - started
        manifest["runs"][str(latent_dim)] = {
            "csv": path.name,
            "samples_png": f"{dataset}_nz{latent_dim}_samples.png",
            "finished": True,
            "wall_seconds": round(seconds, 1),
            "final": asdict(curve[-1]),
        }
        save_manifest()
        if not args.quiet:
            last = curve[-1]
            print(
                f"{dataset} N_z={latent_dim}: {last.samples_seen} samples, train bound"
                f" {last.train_bound:.2f}, test bound {last.test_bound:.2f} nats ({seconds:.0f} s)",
                flush=True,
            )
    print(f"wrote {len(latent_dims)} curve(s) to {out}")
    return 0
