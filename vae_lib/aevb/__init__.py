"""Kingma & Welling (2013), Section 5 and Appendix C, as a reproducible experiment.

`book/12_aevb.ipynb` explains it; `python -m vae_lib aevb ...` runs it.

config      AEVBConfig: every setting of a run, the paper's architectures (PAPER)
experiment  the paper's model and initialisation, the data, evaluating the bound
training    one curve: the resumable loop (AEVB or wake-sleep), checkpointed at every point
wake_sleep  the wake-sleep baseline of Figure 2 (Hinton et al. 1995)
results     the results folder: curve CSVs, prior samples, the manifest (writer and reader)
figure      every curve of a config into a results folder, resuming stopped curves
plot        Figure 2
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
)
from .figure import train_figure
from .plot import plot_curves, plot_figure
from .results import load_figure, load_results, read_bounds, read_curve
from .training import one_curve, train_curve


def cached_run(config: AEVBConfig, latent_dim: int) -> tuple[nn.Module, dict[str, Any]]:
    """The last point of one curve, through the run cache: (model, {"final": point, sizes}).

    For models the chapter shows rather than plots (the 2-d manifolds of `book/12_aevb.ipynb`).
    """
    from ..runs import cached_model

    def train() -> tuple[nn.Module, dict[str, Any]]:
        data = load_data(config)
        model, curve = one_curve(config, latent_dim, points=[config.samples], data=data)
        sizes = {"eval_train": len(data.eval_train), "eval_test": len(data.eval_test)}
        return model, {"final": asdict(curve[-1]), **sizes}

    name = f"aevb-{config.dataset}-nz{latent_dim}"
    return cached_model(name, {**asdict(config), "latent_dim": latent_dim}, train)


__all__ = [
    "BATCH_SIZE", "INIT_STD", "PAPER", "AEVBConfig", "CurvePoint", "Data", "cached_run",
    "config_from_manifest", "evaluation_points", "load_data", "load_results", "lower_bound",
    "load_figure", "one_curve", "paper_init_", "paper_model", "plot_curves", "plot_figure",
    "read_bounds", "read_curve", "train_curve", "train_figure",
]
