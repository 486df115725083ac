"""Chapter 16's experiment: a factorized-Gaussian VAE and an IAF VAE, their bounds and gaps.

Both models are `FlowVAE`s of chapter 13's size (784-400-20-400-784, ReLU, Bernoulli
decoder), built from the same seed: the Gaussian one has no flow steps, the IAF one adds
its steps after the encoder and decoder are initialised, so the two start from the same
encoder and decoder weights and differ in the flow alone. Both train on dynamically binarized
MNIST with the same budget (Adam 1e-3, batches of 128, seed 0). Then, on a seeded random
subset of the test set binarized once (seed 0, as in chapter 13), per image:

- `elbo`, `l_k`: the ELBO (mean of K log-weights) and L_K (their log-mean-exp), noise seed 1;
- `elbo_enc`, `elbo_s<step>`: the sampled ELBO of the encoder's q and of the per-image q
  (`vae_lib.gaps.optimise_posterior`) after each kept step, all with the same common noise.

    python experiments/flows/run.py --out experiments/flows/results --into-committed

Resumable: `--resume` continues a training run from its last epoch, and skips each finished
evaluation file. Writes `manifest.json` (command, config, machine, wall time per stage).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

import vae_lib
from vae_lib.checkpoint import save_checkpoint
from vae_lib.device import use_book_threads
from vae_lib.evaluation import describe_subset, random_subset, separate_noise, subset_indices
from vae_lib.files import write_columns
from vae_lib.gaps import elbo_of, optimise_posterior, variational_parameters
from vae_lib.models import build_model
from vae_lib.runkit.folder import UsageError, output_folder
from vae_lib.runkit.records import read_manifest, start_session, write_manifest
from vae_lib.runkit.state import fit_resumably

BASE = {"kind": "flow", "latent_dim": 20, "hidden_dim": 400, "image_shape": (1, 28, 28),
        "activation": "relu", "likelihood": "bernoulli"}
ARMS = {
    "gaussian": {"flow": "iaf", "n_flows": 0},
    "iaf": {"flow": "iaf", "n_flows": 2, "flow_hidden_dim": 200},
    "planar": {"flow": "planar", "n_flows": 8},
}
LOG_WEIGHT_SEED, COMMON_NOISE_SEED, OPT_SEED = 1, 4, 3


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--into-committed", action="store_true")
    p.add_argument("--models", nargs="+", default=["gaussian", "iaf"], choices=sorted(ARMS))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-size", type=int, default=None, help="default: all 60,000")
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--k", type=int, default=5000, help="samples per image for L_K")
    p.add_argument("--steps", type=int, nargs=2, default=(200, 200))
    p.add_argument("--opt-k", type=int, default=4, help="draws per optimisation step")
    p.add_argument("--common-k", type=int, default=500, help="draws for each compared ELBO")
    p.add_argument("--batch", type=int, default=100, help="images optimised at once")
    return p.parse_args(argv)


def spec_of(arm: str) -> dict:
    return {**BASE, **ARMS[arm]}


def train(arm: str, args, out: Path, train_x, track_x, stage: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(spec_of(arm))
    started = time.perf_counter()
    history = fit_resumably(model, train_x, track_x, out / f"{arm}_checkpoint.pt",
                            resume=args.resume, epochs=args.epochs, batch_size=128, lr=1e-3,
                            seed=0, binarize=True, quiet=True, device="cpu")
    save_checkpoint(model, out / f"{arm}_weights.pt")
    stage[f"{arm}_train_seconds_this_session"] = time.perf_counter() - started
    stage[f"{arm}_train_seconds_all_epochs"] = sum(r.seconds for r in history)
    stage[f"{arm}_last_test_loss"] = history[-1].test_loss
    return model.eval()


def bounds(model, x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows = []
    with separate_noise(seed=LOG_WEIGHT_SEED):
        for i in range(0, x.shape[0], 10):
            rows.append(vae_lib.log_weights(model, x[i : i + 10], k, chunk=500).double())
    lw = torch.cat(rows, dim=1)
    return lw.mean(0), torch.logsumexp(lw, 0) - math.log(k)


def gaps(model, x: torch.Tensor, args) -> dict[str, torch.Tensor]:
    a, b = args.steps
    kept_at = (a, a + b // 2)  # the final step is always kept
    columns: dict[str, list[torch.Tensor]] = {}
    for i in range(0, x.shape[0], args.batch):
        xb = x[i : i + args.batch]
        kept = optimise_posterior(model, xb, (a, b), k=args.opt_k, kept_at=kept_at,
                                  seed=OPT_SEED + i)
        states = {"elbo_enc": variational_parameters(model, xb)}
        states.update({f"elbo_s{step}": params for step, params in kept.items()})
        with torch.no_grad():
            for name, params in states.items():
                gen = torch.Generator().manual_seed(COMMON_NOISE_SEED)
                value = elbo_of(model, xb, params, args.common_k, gen).double()
                columns.setdefault(name, []).append(value)
    return {name: torch.cat(v) for name, v in columns.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        out = output_folder(args.out, args.resume, args.into_committed,
                            lambda p: (p / "manifest.json").is_file())
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    use_book_threads()
    manifest = read_manifest(out / "manifest.json") or {
        "command": "python experiments/flows/run.py " + " ".join(sys.argv[1:] if argv is None
                                                                   else argv),
        "config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                      if k not in {"resume", "into_committed"}},
                   "specs": {arm: spec_of(arm) for arm in args.models},
                   "optimiser": "Adam lr 1e-3, batch 128, seed 0, dynamic binarization",
                   "per_image_q": "Adam on each image's sampled ELBO: steps[0] at 1e-2, then"
                                  " steps[1] at 1e-3; free: mu, logvar and the IAF context",
                   "test_images": describe_subset(10_000, args.n_test),
                   "test_binarization": "torch.bernoulli, generator seed 0 (chapter 13)",
                   "seeds": {"log_weights": LOG_WEIGHT_SEED, "common_noise": COMMON_NOISE_SEED,
                             "optimisation": OPT_SEED}},
        "stages": {},
    }
    start_session(manifest, threads=torch.get_num_threads())
    write_manifest(out / "manifest.json", manifest)
    train_x = random_subset(vae_lib.load_dataset("mnist", "train").images,
                                    args.train_size)
    test = vae_lib.load_dataset("mnist", "test").images
    track_x = random_subset(test, 2000)
    test_binary = torch.bernoulli(test, generator=torch.Generator().manual_seed(0))
    index = subset_indices(10_000, args.n_test)
    x = test_binary[index]
    for arm in args.models:
        stage = manifest["stages"].setdefault(arm, {})
        model = train(arm, args, out, train_x, track_x, stage)
        write_manifest(out / "manifest.json", manifest)
        path = out / f"{arm}_bounds.csv"
        if not path.exists():
            started = time.perf_counter()
            elbo, l_k = bounds(model, x, args.k)
            write_columns(path, index, {"elbo": elbo, f"l_{args.k}": l_k})
            stage["bounds_seconds"] = time.perf_counter() - started
            write_manifest(out / "manifest.json", manifest)
        path = out / f"{arm}_gaps.csv"
        if not path.exists():
            started = time.perf_counter()
            write_columns(path, index, gaps(model, x, args))
            stage["gaps_seconds"] = time.perf_counter() - started
            write_manifest(out / "manifest.json", manifest)
        print(f"{arm}: done", flush=True)
    manifest["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write_manifest(out / "manifest.json", manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
