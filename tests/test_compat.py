"""The committed long runs resume bit for bit across changes to the run layer.

Each case takes a checkpoint exactly as an earlier version of the code committed it (read from
git history, so later commits of the same run cannot change it), continues it for a few steps,
and compares a digest of everything a resumed run carries on with (weights, optimizer state,
random generators, the curve) with `fixtures/compat.json`, recorded by the code that made the
checkpoint. Same CPU model as the recording: the digests must be equal. Another CPU may round
float sums differently, so there the per-tensor sums must agree to 1e-5 instead (said, not
skipped). Record again only on purpose: `python tests/test_compat.py --record`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae_lib import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "compat.json"
CASES = {  # name: (commit, path) of a checkpoint the old code wrote
    "iwae_vae_k1_b100_pass1713": ("1d0d5b3", "experiments/iwae/vae_k1_b100/iwae_checkpoint.pt"),
    "aevb_mnist_nz10_56200": ("b75bea2", "experiments/aevb/figure2/mnist_nz10_checkpoint.pt"),
    "wake_sleep_frey_nz2_3e6": ("b75bea2", "experiments/aevb/figure2/frey_ws_nz2_checkpoint.pt"),
}


def committed_checkpoint(case: str, tmp: Path) -> Path:
    """The checkpoint's bytes at its commit; a clone without that history fails, loudly."""
    commit, path = CASES[case]
    blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                          capture_output=True, check=False)
    assert blob.returncode == 0, (f"git history is needed (a full clone): {commit}:{path}:"
                                  f" {blob.stderr.decode()[:200]}")
    out = tmp / Path(path).name
    out.write_bytes(blob.stdout)
    return out


def _tensors(value, prefix=""):
    """Every tensor and number in a nested structure, with a stable name, in a stable order."""
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            yield from _tensors(value[k], f"{prefix}/{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _tensors(v, f"{prefix}/{i}")
    elif isinstance(value, (int, float, bool)) or value is None:
        yield prefix, torch.tensor(float("nan") if value is None else float(value),
                                   dtype=torch.float64)


def digest(state: dict) -> dict:
    """sha256 over the bytes of every tensor, and each tensor's sum (for another CPU)."""
    h, sums = hashlib.sha256(), {}
    for name, t in _tensors(state):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        if t.is_floating_point():
            sums[name] = float(t.double().sum())
    return {"sha256": h.hexdigest(), "sums": sums}


def continue_iwae(path: Path) -> dict:
    """One more pass of Burda et al.'s run from the checkpoint (the CPU variant, mb 100)."""
    from vae_lib.iwae import training
    from vae_lib.iwae.config import IWAEConfig

    _, extras = load_checkpoint(path, map_location="cpu")
    config = IWAEConfig(**extras["iwae_config"])
    state = training.restore_state(config, path)
    training.train(config, state, training.load_mnist(config), lambda s, done: None,
                   log=lambda line: None, stop_after_passes=1)
    training._snapshot(state, 0.0)
    payload = training.state_payload(config, state)
    payload.pop("wall_seconds")
    return {"weights": state["model"].state_dict(), **payload}


def continue_curve(path: Path, extra_samples: int) -> dict:
    """A Figure 2 curve continued from its checkpoint to `extra_samples` more samples."""
    from vae_lib.aevb import config as aevb_config
    from vae_lib.aevb import experiment, training

    model, extras = load_checkpoint(path, map_location="cpu")
    config = aevb_config.AEVBConfig(**{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in extras["aevb_config"].items()})
    resume = extras["state"]
    states = []
    data = experiment.load_data(config)
    curve = training.train_curve(model, data, [resume["seen"] + extra_samples], config.lr,
                                 config.seed, method=config.method, resume=resume,
                                 on_checkpoint=states.append,
                                 sleep_fantasies=config.sleep_fantasies)
    state = states[-1]
    state.pop("wall_seconds")
    state["curve"] = [{k: v for k, v in p.items() if k != "wall_seconds"} for p in state["curve"]]
    del curve
    return {"weights": model.state_dict(), **state}


def run_case(case: str, tmp: Path) -> dict:
    path = committed_checkpoint(case, tmp)
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        if case.startswith("iwae"):
            return continue_iwae(path)
        return continue_curve(path, 2_000 if case.startswith("wake") else 10_000)


def cpu_model() -> str:
    from vae_lib.runkit.records import machine_description

    return machine_description()["cpu"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_committed_run_continues_as_the_old_code_continued_it(case, tmp_path):
    recorded = json.loads(FIXTURE.read_text())
    expected, got = recorded["cases"][case], digest(run_case(case, tmp_path))
    if recorded["cpu"] == cpu_model():
        assert got["sha256"] == expected["sha256"]
    else:  # another CPU: the same numbers up to rounding, every tensor
        assert got["sums"].keys() == expected["sums"].keys()
        for name, value in expected["sums"].items():
            assert got["sums"][name] == pytest.approx(value, rel=1e-5, abs=1e-5), name


if __name__ == "__main__" and "--record" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cases = {case: digest(run_case(case, Path(tmp))) for case in sorted(CASES)}
    FIXTURE.write_text(json.dumps({"cpu": cpu_model(), "cases": cases}, indent=1) + "\n")
    print(f"recorded {FIXTURE}")
