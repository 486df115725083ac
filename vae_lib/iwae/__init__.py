"""Burda, Grosse & Salakhutdinov (2016), Table 1, one stochastic layer: the paper's recipe.

`book/13_log_likelihood.ipynb` compares with the table; `python -m vae_lib iwae train | eval`
runs it.

config    IWAEConfig: the recipe's settings (schedule, minibatch, k, evaluation)
training  the objective L_k, the staged Adam schedule, resumable checkpoints, test NLL as L_5000
table     the run into a results folder: checkpoints, the stage table, the manifest
"""

from __future__ import annotations

from .config import IWAEConfig, schedule
from .training import iwae_objective, load_mnist, test_nll, train

__all__ = ["IWAEConfig", "iwae_objective", "load_mnist", "schedule", "test_nll", "train"]
