"""Where tensors live and how many CPU threads torch uses. Nothing requires a GPU.

The policy, stated once: every model the library hands back (trained now, loaded from the run
cache, loaded from a checkpoint) sits on `pick_device()`, and every library function moves its
inputs to `model_device(model)`. Chapters do the same with their own tensors.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn


def pick_device() -> torch.device:
    """`cuda`, then `mps`, else `cpu`; the environment variable VAE_DEVICE overrides.

    So a chapter uses a GPU where there is one and runs unchanged where there is none
    (README.md, 'Run the chapters yourself').
    """
    wanted = os.environ.get("VAE_DEVICE")
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(f"VAE_DEVICE={wanted!r} is not a torch device: {err}") from None
        return check_usable(device, f"VAE_DEVICE={wanted!r}")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_usable(device: torch.device, what: str) -> torch.device:
    """`device` if this machine can train on it, else one ValueError line naming those it has.

    cuda and mps must be present; meta holds no data, so nothing can be trained there.
    """
    mps = getattr(torch.backends, "mps", None)
    present = {"cpu": True, "cuda": torch.cuda.is_available(),
               "mps": bool(mps and mps.is_available())}
    if not present.get(device.type, False):
        why = "holds no data" if device.type == "meta" else "is not available on this machine"
        usable = ", ".join(name for name, here in present.items() if here)
        raise ValueError(f"{what}: device {device.type!r} {why}; use one of: {usable}")
    return device


def usable_device(device: str | torch.device, what: str) -> torch.device:
    """`device` as a torch.device this machine can train on, else one ValueError line.

    What `fit(device=...)` accepts: a typo is one line before training, not a torch traceback.
    """
    try:
        return check_usable(torch.device(device), what)
    except RuntimeError as err:
        raise ValueError(f"{what}: {device!r} is not a torch device ({err})") from None


def training_device(device: str | torch.device | None = None) -> torch.device:
    """Where `fit` trains: `device` checked (`usable_device`), else `pick_device()`; and the
    thread policy applied once per process (`use_book_threads`)."""
    use_book_threads()
    return usable_device(device, "fit") if device is not None else pick_device()


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 for sums of losses over an epoch, so the total is not rounded to float32's seven
    digits; mps has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


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
    a rerun match committed curves bit for bit (`vae_lib.aevb`'s `threads`); one thread is also the
    fastest way to train a small MLP on a shared CPU (`book/13_log_likelihood.ipynb`).
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def usable_cpus() -> int:
    """How many CPUs this process may really use: its affinity mask and its cgroup's CPU quota.

    `os.cpu_count()` and torch's default count the host's cores; in a container with a quota
    (Binder gives about one CPU on a many-core host) that many threads fight over one core.
    `use_book_threads` caps the count the chapters train with at it (README.md, 'Threads').
    """
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_quota()
    return max(1, min(count or 1, quota or count or 1))


def _cgroup_quota() -> int | None:
    """This process's CPU quota under cgroup v2 (cpu.max) or v1 (cfs_quota_us), rounded up.

    None when there is no quota. The process's own cgroup is read from /proc/self/cgroup; in a
    container that is usually the root of the mounted hierarchy.
    """
    own = {"v2": "/", "v1": "/"}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                own["v2"] = path
            elif "cpu" in controllers.split(","):
                own["v1"] = path
    v1 = Path("/sys/fs/cgroup/cpu") / own["v1"].lstrip("/")
    for base, quota_name, period_name in (
        (Path("/sys/fs/cgroup") / own["v2"].lstrip("/"), "cpu.max", None),
        (v1, "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    ):
        with contextlib.suppress(OSError, ValueError, IndexError):
            words = (base / quota_name).read_text().split()
            period = (base / period_name).read_text().split() if period_name else words[1:]
            if words[0] not in {"max", "-1"}:
                return math.ceil(int(words[0]) / int(period[0]))
    return None


DEFAULT_THREADS = 1  # the book's models train fastest-in-the-worst-case on one thread


@lru_cache(maxsize=1)
def use_book_threads() -> int:
    """Once per process, train with one torch thread unless the reader chose another count.

    Measured by `benchmarks/threads.py` on a 2-core machine (README, "Threads"): two threads
    are 1.4-1.6x faster on a quiet CPU, but beside one busy process they wait for each other
    and run 2.8x slower than one thread, which loses at most 1.6x anywhere. One thread is the
    count that is never badly slow; a reader's laptop or Colab is rarely quiet. VAE_THREADS
    (or OMP_NUM_THREADS) sets another count, capped at `usable_cpus()`. Called by `fit`;
    returns the count in force.
    """
    wanted = os.environ.get("VAE_THREADS") or os.environ.get("OMP_NUM_THREADS")
    try:
        count = int(wanted) if wanted else DEFAULT_THREADS
    except ValueError:
        raise ValueError(f"VAE_THREADS / OMP_NUM_THREADS must be a whole number, got"
                         f" {wanted!r}") from None
    torch.set_num_threads(max(1, min(count, usable_cpus())))
    return torch.get_num_threads()
