"""Intervals for the study's comparisons.

- :func:`mean_ci`: mean over seeds with a Student-t 95% interval (few seeds: the t quantile,
  not 1.96, so three seeds give an honest, wide interval).
- :func:`paired_bootstrap`: the difference of two settings scored on the same test samples,
  resampling samples (and averaging over seeds first), with a percentile interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float = 0.0) -> bool:
        """True when ``value`` lies outside the interval (a difference is resolved)."""
        return not (self.low <= value <= self.high)

    def format(self, digits: int = 1) -> str:
        if self.n < 2 or not np.isfinite(self.half_width):
            return f"{self.estimate:.{digits}f}"
        return f"{self.estimate:.{digits}f} ± {self.half_width:.{digits}f}"


def mean_ci(values, confidence: float = 0.95) -> Interval:
    """Mean and two-sided Student-t interval; NaNs are dropped, one value gives no width."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), 1)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired_bootstrap(
    a, b, confidence: float = 0.95, resamples: int = 10000, seed: int = 0
) -> Interval:
    """Mean of ``a - b`` over paired samples with a percentile bootstrap interval.

    ``a`` and ``b`` are per-sample scores of two settings on the same test samples, either (N,)
    or (seeds, N); with seeds, each sample's score is first averaged over its seeds, so the
    interval reflects test-set variation of the seed-averaged models.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim == 2:
        a = a.mean(axis=0)
    if b.ndim == 2:
        b = b.mean(axis=0)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have the same shape, got {a.shape} and {b.shape}")
    diff = a - b
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, diff.size, size=(resamples, diff.size))
    means = diff[index].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(diff.mean()), float(low), float(high), int(diff.size))
