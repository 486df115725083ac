"""KL warm-up: a weight on the KL term that grows from `start` to 1 over the first steps.

Bowman et al. (2016) anneal the KL weight from 0 so that the encoder learns to put information
into z before the KL term starts to charge for it. Explained in
book/15_posterior_collapse.ipynb.
"""

from __future__ import annotations

import math

from .checks import check_count


def linear_warmup(step: int, warmup_steps: int, start: float = 0.0, end: float = 1.0) -> float:
    """The KL weight at optimisation step `step` (0-based): linear from start to end, then end.

    With warmup_steps = 0 the weight is `end` from the first step. Explained in
    book/15_posterior_collapse.ipynb.
    """
    if step < 0:
        raise ValueError(f"linear_warmup: step must be >= 0, got {step}")
    check_count("linear_warmup: warmup_steps", warmup_steps, low=0)  # NaN, 2.5, -1: refused
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start <= end):
        raise ValueError(f"linear_warmup: need 0 <= start <= end, got start={start}, end={end}")
    if step >= warmup_steps:
        return float(end)
    return start + (end - start) * step / warmup_steps
