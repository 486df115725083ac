"""vae_lib: the small PyTorch library every chapter of the vae-book imports.

config       VAEConfig: one chapter run's settings; everything else derives from it
models       VAE, MLPVAE, ConvVAE, Autoencoder and build_model, the one model builder
objectives   gaussian_kl, likelihoods, elbo, log_weights, iwae_bound
data         load_dataset (mnist, fashion-mnist, frey, digits)
baselines    no-latent yardsticks with exact log-likelihoods: per-pixel Gaussian, PPCA
device       pick_device, model_device, torch_threads: where tensors live, how many threads
train        fit (any model with an objective), evaluate: the loop chapter 8 walks through
losses       training losses for fit: sum vs mean, KL warm-up, free bits (chapters 14-15)
code_use     is the code used? information per latent unit, the wrong-code test (chapter 15)
aggregate    the aggregate posterior q(z) and the ELBO's two terms (chapter 17)
gaps         per-image fits of q: the approximation and amortization gaps (chapter 16)
evaluation   the evaluation protocol: seeded random subsets, mean ± SE, paired differences
schedules    linear_warmup
checks       the boundary checks: pixels in [0, 1], finite values, beta, counts, divergence
files        atomic writes and the one CSV format of every result file
checkpoint   save_checkpoint, load_checkpoint (weights only, versioned, sha256)
runs         choose / is_quick (quick vs full), cached_model, cached_vae: the runs chapters share
explore      latent maths: interpolation, grids, traversals, posterior means, active units
plots        figures (loads matplotlib)           derivation  sympy-checked steps (loads sympy)
display      HTML tables, inline GIFs, the static explorer    widgets  the live ipywidgets explorer
exercises    answer_checker: the self-checks of the chapters' exercises
aevb         Kingma & Welling's Figure 2 experiment (`python -m vae_lib aevb`)
iwae         Burda et al.'s Table 1 recipe, one stochastic layer (`python -m vae_lib iwae`)
runkit       the run layer: --out policy, resumable state, manifests (every command shares it)
commands     `python -m vae_lib train | aevb | iwae`: parse, config, run; one-line errors

`import vae_lib` loads torch only: each name below is imported from its module on first use, so
plotting, sympy and ipywidgets load when a chapter first needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "checkpoint": ["CheckpointError", "load_checkpoint", "save_checkpoint"],
    "config": ["VAEConfig"],
    "data": ["DataError", "ImageData", "load_dataset"],
    "derivation": ["DerivationError", "StepCheck", "assert_chain", "assert_step", "check_step",
                   "integrate_against", "latex", "normal_expectation", "normal_pdf"],
    "device": ["model_device", "pick_device", "torch_threads"],
    "display": ["drag_pad_html", "explorer_html", "gif_html", "table_html"],
    "exercises": ["answer_checker"],
    "explore": ["active_units", "axis_values", "interpolate", "latent_activity", "latent_grid",
                "latent_traversal", "lerp", "posterior_means", "slerp"],
    "models": ["MLPVAE", "Autoencoder", "ConvVAE", "DeepVAE", "FlowVAE", "LikelihoodVAE", "MADEVAE",
               "build_model"],
    "losses": ["free_bits_loss", "implicit_beta", "kl_per_unit", "mean_kl_per_unit",
               "reduced_loss", "warmup_loss"],
    "schedules": ["linear_warmup"],
    "objectives": ["ELBO", "bernoulli_log_likelihood", "elbo", "gaussian_kl",
                   "gaussian_log_likelihood", "iwae_bound", "log_weights"],
    "plots": ["image_grid", "plot_latent_means", "plot_losses", "plot_manifold",
              "plot_reconstructions"],
    "runs": ["TrainedVAE", "cached_model", "cached_vae", "choose", "committed_results", "is_quick",
             "train_vae"],
    "train": ["EpochRecord", "FitState", "History", "evaluate", "fit", "new_fit_state"],
    "widgets": ["LatentExplorer"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = {"aevb", "aggregate", "baselines", "checkpoint", "checks", "code_use", "commands",
               "config", "data", "derivation", "device", "display", "downloads", "evaluation",
               "exercises", "explore", "files", "gaps", "iwae", "losses", "models", "objectives",
               "plots", "runkit", "runs", "schedules", "train", "widgets"}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """Import a name's module on first use (PEP 562) and remember the name."""
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'vae_lib' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
