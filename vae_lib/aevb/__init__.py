"""Kingma & Welling (2013), Section 5 and Appendix C, as a reproducible experiment.

`book/12_aevb.ipynb` explains it; `python -m vae_lib aevb ...` runs it.

config      AEVBConfig: every setting of a run, the paper's architectures (PAPER)
experiment  the paper's model and initialisation, training and evaluating one curve
results     the results folder: curve CSVs, prior samples, the manifest (writer and reader)
plot        Figure 2
training    the resumable training loop (AEVB or wake-sleep), checkpointed at every point
wake_sleep  the wake-sleep baseline of Figure 2 (Hinton et al. 1995)
runner      the command line's run over every latent size, resuming stopped curves
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from torch import nn

from .config import BATCH_SIZE, INIT_STD, PAPER, AEVBConfig, config_from_manifest
from .experiment import (
    CurvePoint,
    Data,
    evaluation_points,
    load_data,
    lower_bound,
    paper_init_,
    paper_model,
    run,
)
from .plot import plot_curves, plot_figure
from .results import load_figure, load_results, read_bounds, read_curve
from .runner import command
from .training import train_curve


def cached_run(config: AEVBConfig, latent_dim: int) -> tuple[nn.Module, dict[str, Any]]:
    """The last point of one curve, through the run cache: (model, {"final": point, sizes}).

    For models the chapter shows rather than plots (the 2-d manifolds of `book/12_aevb.ipynb`).
    """
    from ..runs import cached_model

    def train() -> tuple[nn.Module, dict[str, Any]]:
        data = load_data(config)
        model, curve = run(config, latent_dim, points=[config.samples], data=data)
        sizes = {"eval_train": len(data.eval_train), "eval_test": len(data.eval_test)}
        return model, {"final": asdict(curve[-1]), **sizes}

    name = f"aevb-{config.dataset}-nz{latent_dim}"
    return cached_model(name, {**asdict(config), "latent_dim": latent_dim}, train)


__all__ = [
    "BATCH_SIZE", "INIT_STD", "PAPER", "AEVBConfig", "CurvePoint", "Data", "cached_run", "command",
    "config_from_manifest", "evaluation_points", "load_data", "load_results", "lower_bound",
    "load_figure", "paper_init_", "paper_model", "plot_curves", "plot_figure", "read_bounds",
    "read_curve", "run", "train_curve",
]
