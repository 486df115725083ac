"""Figure 2 of Kingma & Welling (2013): the lower bound against training samples seen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .experiment import CurvePoint


def plot_curves(curves: dict[int, Sequence[CurvePoint]], title: str = "", ax: Any = None) -> Any:
    """Train (solid) and test (dashed) bound against samples, log axis; returns the Figure.

    One colour per latent size. Shown in `book/12_aevb.ipynb`.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    colours = plt.get_cmap("viridis")
    for i, (nz, curve) in enumerate(sorted(curves.items())):
        colour = colours(i / max(len(curves) - 1, 1))
        seen = [p.samples_seen for p in curve]
        ax.plot(seen, [p.train_bound for p in curve], color=colour, label=f"$J$ = {nz}")
        ax.plot(seen, [p.test_bound for p in curve], color=colour, linestyle="--")
    ax.set_xscale("log")
    ax.set_xlabel("training samples evaluated")
    ax.set_ylabel("lower bound per datapoint (nats)")
    ax.set_title(title + " (solid: train, dashed: test)" if title else "solid: train, dashed: test")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax.figure


def plot_figure(runs: dict[tuple[str, str, int], Any], dataset: str, sizes: Sequence[int],
                axes: Sequence[Any]) -> None:
    """Figure 2's panels for one data set: per latent size, AEVB (blue) and wake-sleep (red),
    train (solid) and test (dashed). `runs` is `load_figure`'s; a size with no curve says so
    in its panel (`book/12_aevb.ipynb`)."""
    styles = {"aevb": ("C0", "AEVB"), "wake-sleep": ("C3", "wake-sleep")}
    for ax, nz in zip(axes, sizes, strict=True):
        drawn = False
        for method, (colour, name) in styles.items():
            run = runs.get((dataset, method, nz))
            if run is None:
                continue
            curve, drawn = run["curve"], True
            seen = [p.samples_seen for p in curve]
            ax.plot(seen, [p.train_bound for p in curve], color=colour, label=f"{name}, train")
            ax.plot(seen, [p.test_bound for p in curve], color=colour, ls="--",
                    label=f"{name}, test")
        if not drawn:
            ax.text(0.5, 0.5, "not run yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xscale("log")
        ax.set_title(f"$J$ = {nz}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.set_xlabel("training samples")
