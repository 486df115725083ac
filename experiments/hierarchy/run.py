"""Chapter 18's experiment: one stochastic layer against two, at the same training budget.

The arms are Burda et al. (2016)'s two MNIST architectures (Table 1): the one-layer
784-200-200-50 `DeepVAE` of chapter 13 and the two-layer `TwoLayerVAE` (stochastic layers of
100 and 50 units, deterministic layers of 100 and 50). Everything else is the same for both:

- the objective: the one-sample ELBO with every term sampled, log p(x, z) - log q(z | x) at one
  z ~ q (Burda et al.'s VAE, k = 1; the two-layer model has no closed-form KL, so the one-layer
  model's KL is sampled too, and the two arms' gradients are estimated alike);
- Adam (0.9, 0.999, eps 1e-4, as the paper), the learning rates of the first stages of the
  paper's schedule (3^i passes at 1e-3 * 10^(-i/7)), cut at `--passes`; minibatches of
  `--batch-size`; Glorot initialisation from the same global seed;
- the data: the 60,000 training images binarized afresh for every minibatch, in the same order
  (a shuffling generator and a binarizing generator seeded alike for both arms).

Then, on a seeded random subset of the test set binarized once (seed 0, as chapter 13), the
same images for both arms, per image: the ELBO (the mean of K log-weights), L_K (their
log-mean-exp) and L_{K/2} of each half of the weights (two independent redraws, for a Monte
Carlo error), noise seed 1; and the activity of each latent unit, Var_x E_q[u | x].

    python experiments/hierarchy/run.py --out experiments/hierarchy/results --into-committed

Resumable: `--resume` continues a training run from its last finished pass, bit for bit at one
thread, and skips every finished evaluation file. Writes `manifest.json` (command, settings,
machine per session, wall time per stage).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

import vae_lib
from vae_lib.checkpoint import read_checkpoint, save_checkpoint
from vae_lib.checks import check_diverged, inputs_checked
from vae_lib.device import use_book_threads
from vae_lib.evaluation import describe_subset, separate_noise, subset_indices, sum_of_products
from vae_lib.files import atomic_write_json, atomic_write_text, csv_text, write_columns
from vae_lib.iwae.training import iwae_objective
from vae_lib.models import build_model
from vae_lib.runkit.folder import UsageError, output_folder
from vae_lib.runkit.records import read_manifest, start_session, write_manifest
from vae_lib.runkit.state import check_same_settings, generator_states, restore_generators

SPECS = {
    "one_layer": {"kind": "deep", "latent_dim": 50, "hidden_dims": [200, 200],
                  "image_shape": [1, 28, 28], "activation": "tanh"},
    "two_layer": {"kind": "two_layer", "latent_dims": [100, 50], "hidden_dims": [100, 50],
                  "image_shape": [1, 28, 28], "activation": "tanh"},
}
ADAM = {"betas": (0.9, 0.999), "eps": 1e-4}  # Burda et al., Section 5
TEST_BINARIZATION_SEED, LOG_WEIGHT_SEED, ACTIVITY_SEED = 0, 1, 2
MANIFEST = "manifest.json"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--into-committed", action="store_true")
    p.add_argument("--arms", nargs="+", default=list(SPECS), choices=list(SPECS))
    p.add_argument("--passes", type=int, default=13, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=100, help="minibatch (paper: 20)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate of stage 0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=None, help="first N images (default all)")
    p.add_argument("--n-test", type=int, default=1000, help="seeded random test images")
    p.add_argument("--k", type=int, default=5000, help="samples per image for L_K")
    return p.parse_args(argv)


def schedule(args: argparse.Namespace) -> list[float]:
    """The learning rate of each pass: Burda et al.'s stages, 3^i passes at lr 10^(-i/7),
    cut after `passes` passes."""
    rates: list[float] = []
    stage = 0
    while len(rates) < args.passes:
        rates += [args.lr * 10 ** (-stage / 7)] * 3**stage
        stage += 1
    return rates[: args.passes]


def training_settings(args: argparse.Namespace) -> dict:
    return {"passes_schedule": schedule(args), "batch_size": args.batch_size, "seed": args.seed,
            "train_size": args.train_size, "adam": {"betas": [0.9, 0.999], "eps": 1e-4}}


def one_sample_elbo(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """log p(x, z) - log q(z | x) at one z ~ q(z | x) per image, with gradients, both arms."""
    if callable(getattr(model, "posterior_sample", None)):
        return model.objective(x).total  # both KL terms sampled (vae_lib.models.hierarchy)
    return iwae_objective(model, x, 1)  # L_1: the same estimator for the one-layer model


def train_arm(arm: str, args, out: Path, train_x: torch.Tensor, stage: dict, log=print):
    """Train one arm for `args.passes` passes, checkpointing after every pass; resumable."""
    checkpoint, weights = out / f"{arm}_checkpoint.pt", out / f"{arm}_weights.pt"
    settings = {**training_settings(args), "spec": SPECS[arm]}
    torch.manual_seed(args.seed)
    model = build_model(SPECS[arm])
    opt = torch.optim.Adam(model.parameters(), args.lr, **ADAM)
    shuffle = torch.Generator().manual_seed(args.seed + 1)
    binarize = torch.Generator().manual_seed(args.seed + 2)
    rows: list[dict] = []
    if checkpoint.exists():
        if not args.resume:
            raise UsageError(f"{checkpoint} holds a run: pass --resume")
        payload = read_checkpoint(checkpoint)
        check_same_settings(payload["run"], settings, str(checkpoint))
        model.load_state_dict(payload["state_dict"])
        opt.load_state_dict(payload["optimizer"])
        restore_generators(payload["rng"], shuffle=shuffle, binarize=binarize)
        rows = payload["rows"]
    rates, n = schedule(args), train_x.shape[0]
    while len(rows) < len(rates):
        started = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = rates[len(rows)]
        order = torch.randperm(n, generator=shuffle)
        sums = []
        with inputs_checked():  # binary draws of checked grey images
            for start in range(0, n, args.batch_size):
                x = torch.bernoulli(train_x[order[start : start + args.batch_size]],
                                    generator=binarize)
                bound = one_sample_elbo(model, x)
                opt.zero_grad(set_to_none=True)
                (-bound.mean()).backward()
                opt.step()
                sums.append(bound.detach().sum())
        total = sum_of_products(sums, [1] * len(sums))
        check_diverged(torch.tensor(total), f"in pass {len(rows) + 1} of {arm}")
        rows.append({"pass": len(rows) + 1, "lr": rates[len(rows)], "train_elbo": total / n,
                     "seconds": time.perf_counter() - started})
        save_checkpoint(model, checkpoint, run=settings, optimizer=opt.state_dict(),
                        rng=generator_states(shuffle=shuffle, binarize=binarize), rows=rows)
        stage["passes_done"] = len(rows)
        stage["train_seconds"] = round(sum(r["seconds"] for r in rows), 1)
        write_manifest(out / MANIFEST, read_back(out, arm, stage))
        log(f"{arm} pass {len(rows)}/{len(rates)}: train ELBO {total / n:.3f}"
            f" ({rows[-1]['seconds']:.0f} s)")
    atomic_write_text(out / f"{arm}_passes.csv", csv_text(
        ["pass", "lr", "train_elbo", "seconds"],
        ([r["pass"], f"{r['lr']:.6g}", f"{r['train_elbo']:.4f}", f"{r['seconds']:.1f}"]
         for r in rows)))
    if not weights.exists():
        save_checkpoint(model, weights, run=settings, rows=rows)
    return model.eval()


_MANIFESTS: dict[Path, dict] = {}


def read_back(out: Path, arm: str, stage: dict) -> dict:
    manifest = _MANIFESTS[out]
    manifest["stages"][arm] = stage
    return manifest


@torch.no_grad()
def bounds(model, x: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Per image: the ELBO (mean log-weight), L_K, and L_{K/2} of each half of the weights."""
    rows = []
    with separate_noise(seed=LOG_WEIGHT_SEED):
        for i in range(0, x.shape[0], 10):
            rows.append(vae_lib.log_weights(model, x[i : i + 10], k, chunk=500).double())
    lw = torch.cat(rows, dim=1)
    half = k // 2
    return {"elbo": lw.mean(0), f"l_{k}": torch.logsumexp(lw, 0) - math.log(k),
            f"l_{half}_a": torch.logsumexp(lw[:half], 0) - math.log(half),
            f"l_{half}_b": torch.logsumexp(lw[half : 2 * half], 0) - math.log(half)}


@torch.no_grad()
def activity(model, x: torch.Tensor) -> dict[str, list[float]]:
    """Var_x E_q[u | x] of each latent unit (Burda et al.'s activity), per stochastic layer."""
    with separate_noise(seed=ACTIVITY_SEED):
        if callable(getattr(model, "layer_activity", None)):
            a1, a2 = model.layer_activity(x)
            return {"z1": a1.tolist(), "z2": a2.tolist()}
        return {"z": vae_lib.latent_activity(model, x).tolist()}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    try:
        out = output_folder(args.out, args.resume, args.into_committed,
                            lambda p: (p / MANIFEST).is_file())
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    use_book_threads()
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
              if k not in {"resume", "into_committed"}}
    manifest = read_manifest(out / MANIFEST) or {
        "command": "python experiments/hierarchy/run.py " + " ".join(
            a for a in argv if a != "--resume"),
        "config": config, "specs": SPECS,
        "settings": {
            "objective": "one-sample ELBO, every term sampled (Burda et al.'s VAE, k = 1)",
            "optimiser": "Adam (0.9, 0.999, eps 1e-4); lr per pass: Burda et al.'s stages"
                         " 3^i passes at lr * 10^(-i/7), cut at --passes",
            "learning_rates": schedule(args),
            "data": "MNIST training images, binarized afresh every minibatch (generator seed"
                    " + 2), shuffled by a generator seeded seed + 1, the same for both arms",
            "test_images": describe_subset(10_000, args.n_test),
            "test_binarization": f"torch.bernoulli, generator seed {TEST_BINARIZATION_SEED}",
            "bounds": f"vae_lib.log_weights, K = {args.k}, batches of 10 images, chunk 500,"
                      f" noise seed {LOG_WEIGHT_SEED}; elbo = mean log-weight, l_K ="
                      " log-mean-exp, l_{K/2}_a and _b from each half of the weights",
            "activity": f"Var_x E_q[u | x] on the test subset, noise seed {ACTIVITY_SEED}"
                        " (TwoLayerVAE.layer_activity, 16 draws of z1 for z2's means)"},
        "stages": {}}
    if manifest["config"] != config:
        print(f"error: {out} was started with {manifest['config']}, not {config}",
              file=sys.stderr)
        return 2
    start_session(manifest, threads=torch.get_num_threads())
    _MANIFESTS[out] = manifest
    write_manifest(out / MANIFEST, manifest)
    train_x = vae_lib.load_dataset("mnist", "train").images[: args.train_size]
    test = vae_lib.load_dataset("mnist", "test").images
    test_binary = torch.bernoulli(
        test, generator=torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
    index = subset_indices(10_000, args.n_test)
    x = test_binary[index]
    for arm in args.arms:
        stage = manifest["stages"].setdefault(arm, {})
        model = train_arm(arm, args, out, train_x, stage)
        path = out / f"{arm}_bounds.csv"
        if not path.exists():
            started = time.perf_counter()
            write_columns(path, index, bounds(model, x, args.k))
            stage["bounds_seconds"] = round(time.perf_counter() - started, 1)
        path = out / f"{arm}_activity.json"
        if not path.exists():
            atomic_write_json(path, activity(model, x))
        write_manifest(out / MANIFEST, manifest)
        print(f"{arm}: done", flush=True)
    manifest["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write_manifest(out / MANIFEST, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
