"""The gate's statistics on paired per-question differences: a bootstrap interval of their mean,
and the smallest drop the test can see at this many questions (its minimum detectable effect)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def paired_bootstrap(diffs: np.ndarray, samples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Confidence interval of the mean of paired differences."""
    if len(diffs) == 0:
        return math.nan, math.nan
    if np.allclose(diffs, diffs[0]):
        return float(diffs[0]), float(diffs[0])
    rng = np.random.default_rng(seed)
    means = rng.choice(diffs, size=(samples, len(diffs)), replace=True).mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def minimum_detectable_effect(diffs: np.ndarray, base_values: np.ndarray, confidence: float,
                              power: float) -> tuple[float, str]:
    """The smallest true mean drop the gate's test sees with `power`, and how it was estimated."""
    n = len(diffs)
    if n < 2:
        return math.nan, "fewer than 2 paired values"
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2) + NormalDist().inv_cdf(power)
    spread = float(np.std(diffs, ddof=1))
    if spread > 1e-12:
        return z * spread / math.sqrt(n), "paired"
    sigma = float(np.std(base_values, ddof=1)) if len(base_values) > 1 else 0.0
    if sigma > 1e-12:
        return z * math.sqrt(2) * sigma / math.sqrt(n), "unpaired bound (identical runs)"
    level = float(base_values[0]) if len(base_values) else 0.0
    if level <= 0:
        return math.nan, "at the floor: cannot drop"
    # all n questions equal: k of them falling to 0 clears zero once no resample misses them all
    tail = (1 - confidence) / 2
    k = next(k for k in range(1, n + 1) if (1 - k / n) ** n < tail)
    return level * k / n, f"ceiling: {k} of {n} questions must drop"
