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
