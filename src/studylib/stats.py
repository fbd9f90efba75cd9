"""Intervals for the study's comparisons.

- :func:`mean_ci`: mean over seeds with a Student-t 95% interval (few seeds: the t quantile,
  not 1.96, so three seeds give an honest, wide interval).
- :func:`paired_bootstrap`: the difference of two settings scored on the same test samples,
  resampling samples (and averaging over seeds first), with a percentile interval: how sure the
  difference is on this test set for these trained models.
- :func:`hierarchical_bootstrap`: the same difference resampled over training seeds *and* test
  samples, the interval that decides the ledger's verdicts, with its p-value and
  :func:`minimum_detectable_effect`; :func:`seeds_needed` plans a profile's seeds from it.
- :func:`holm`: Holm's adjusted p-values across a family of comparisons (the ledger's claims).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


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


# ------------------------------------------------------------------ hierarchical interval, power

#: The study's test level and power: two-sided alpha 0.05, 80% power.
ALPHA = 0.05
POWER = 0.80


@dataclass(frozen=True)
class Hierarchical:
    """The deciding interval of a paired difference over training seeds and test samples.

    ``estimate`` is the mean difference over every (seed, sample) cell; ``low``/``high`` its
    interval; ``se`` its standard error and ``df`` the degrees of freedom of its Student-t
    reference; ``p_value`` the two-sided p-value for a difference of 0; ``mde`` the minimum
    detectable effect at :data:`POWER` (:func:`minimum_detectable_effect`). ``seed_sd`` (the SD
    of the per-seed mean differences) and ``sample_se`` (the test set's share of the standard
    error, which more seeds do not shrink) let :func:`seeds_needed` plan a study.
    """

    estimate: float
    low: float
    high: float
    se: float
    df: float
    p_value: float
    mde: float
    seeds: int
    samples: int
    seed_sd: float
    sample_se: float

    @property
    def interval(self) -> Interval:
        return Interval(self.estimate, self.low, self.high, self.seeds)


def hierarchical_bootstrap(
    a,
    b,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
    alpha: float = ALPHA,
    power: float = POWER,
) -> Hierarchical:
    """Mean of ``a - b`` over seeds and test samples, with the interval that decides verdicts.

    ``a`` and ``b`` are per-sample scores of two settings, shape (seeds, samples): row k of each
    is seed k (the same seeds), column i the same test sample. The interval answers "would the
    difference hold for new training runs *and* new test samples?", so both levels are
    resampled: each bootstrap draw picks seeds with replacement, then test samples with
    replacement, and averages the difference over the cells drawn.

    Choices, and why:

    - *Crossed, not nested.* Every seed is scored on the same test samples, so a sample that
      favours one setting does so in every seed. One draw of samples is therefore applied to all
      the seeds drawn (resampling samples independently inside each seed would average that
      shared sample effect away and understate the test set's share of the variance). Every
      bootstrap of a crossed design counts the seed x sample interaction in both levels; it is
      estimated (the two-way table's residual mean square) and counted once.
    - *The seed level in closed form.* The variance over draws of K seeds with replacement of
      their mean is var0(seed means) / K exactly, so it is computed rather than drawn, which
      would add Monte Carlo noise to the share that usually dominates; the sample level is drawn
      (``resamples`` draws). Each share is scaled for the bootstrap's divide-by-n bias (K/(K-1),
      N/(N-1)).
    - *t-calibrated, not percentile.* With three seeds the bootstrap distribution of a mean has
      only ten distinct seed draws: its 2.5% and 97.5% percentiles are about the smallest and
      largest seed, which cover the truth three times in four, and a percentile p-value would
      call "all three seeds on one side" (chance 1 in 4 under no effect) significant. So the
      bootstrap gives the standard error, and the interval and p-value use a Student t with
      Welch-Satterthwaite degrees of freedom from the shares (seeds, samples, interaction):
      about K-1 when the seeds dominate the variance, many when the test set does. Interval
      and p-value then agree (the interval excludes 0 exactly when p < 1 - confidence). With two
      seeds the estimated degrees of freedom are optimistic when the seed share is small by
      chance (in simulation such intervals cover about 92%); from three seeds on they cover
      close to 95% (``tests/test_stats.py``).

    Samples with no score in any seed (NaN in every row) are left out; a cell that is NaN is
    skipped in the means. One seed gives no seed variance, so no interval (NaN) and an infinite
    minimum detectable effect.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"paired scores must both be (seeds, samples), got {a.shape} and {b.shape}"
        )
    diff = a - b
    diff = diff[:, np.isfinite(diff).any(axis=0)]
    diff = diff[np.isfinite(diff).any(axis=1)]
    seeds, samples = diff.shape
    nan = float("nan")
    if diff.size == 0:
        return Hierarchical(nan, nan, nan, nan, nan, nan, nan, 0, 0, nan, nan)
    valid = np.isfinite(diff)
    filled = np.where(valid, diff, 0.0)
    estimate = float(filled.sum() / valid.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        seed_means = np.nanmean(diff, axis=1)
        sample_means = np.nanmean(diff, axis=0)
    seed_sd = float(seed_means.std(ddof=1)) if seeds > 1 else nan
    sample_se = float(sample_means.std(ddof=1) / np.sqrt(samples)) if samples > 1 else 0.0
    if seeds < 2:
        return Hierarchical(
            estimate, nan, nan, nan, nan, nan, np.inf, seeds, samples, nan, sample_se
        )

    # Level 1, seeds: the variance over draws of K seeds with replacement of their mean is
    # var0(seed means) / K exactly, so it is computed, not drawn (drawing would only add Monte
    # Carlo noise to the share that usually dominates).
    seed_var = float(seed_means.var(ddof=1)) / seeds  # the bootstrap's var0 * K / (K - 1)
    # Level 2, test samples: drawn with replacement, one draw shared by every seed (crossed);
    # each draw's mean over all seeds' cells.
    rng = np.random.default_rng(seed)
    column_sums, column_counts = filled.sum(axis=0), valid.sum(axis=0).astype(float)
    replicates = np.empty(resamples)
    chunk = max(1, min(resamples, 2_000_000 // max(samples, 1)))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        counts = _counts(rng.integers(0, samples, (size, samples)), samples)
        replicates[start : start + size] = (counts @ column_sums) / (counts @ column_counts)
    sample_var = float(np.var(replicates)) * samples / (samples - 1) if samples > 1 else 0.0
    # Both shares hold the seed x sample interaction: count it once.
    interaction = _interaction_variance(diff, seed_means, sample_means) / valid.sum()
    variance = seed_var + max(sample_var - interaction, 0.0)
    se = float(np.sqrt(variance))
    # Welch-Satterthwaite for a sum of mean squares: each term's estimate has its own degrees
    # of freedom (seeds K-1, samples N-1, interaction (K-1)(N-1)).
    denominator = seed_var**2 / (seeds - 1)
    if samples > 1:
        denominator += sample_var**2 / (samples - 1)
        denominator += interaction**2 / ((seeds - 1) * (samples - 1))
    df = float(variance**2 / denominator) if denominator > 0 else float(seeds - 1)
    df = max(df, 1.0)
    sample_var = max(sample_var - interaction, 0.0)
    if se > 0:
        half = float(stats.t.ppf(0.5 + confidence / 2, df) * se)
        p_value = float(2 * stats.t.sf(abs(estimate) / se, df))
    else:  # every cell identical: no uncertainty at all
        half, p_value = 0.0, float(estimate == 0)
    mde = minimum_detectable_effect(se, df, alpha, power)
    return Hierarchical(
        estimate,
        estimate - half,
        estimate + half,
        se,
        df,
        p_value,
        mde,
        seeds,
        samples,
        seed_sd,
        float(np.sqrt(sample_var)),
    )


def _interaction_variance(
    diff: np.ndarray, seed_means: np.ndarray, sample_means: np.ndarray
) -> float:
    """The residual mean square of a two-way (seed x sample) table with one value per cell: the
    seed x sample interaction's variance, which the variances of the seed means and of the sample
    means both contain (divided by N and by K)."""
    seeds, samples = diff.shape
    if seeds < 2 or samples < 2:
        return 0.0
    residual = diff - seed_means[:, None] - sample_means[None, :] + np.nanmean(diff)
    return float(np.nansum(residual**2) / ((seeds - 1) * (samples - 1)))


def _counts(index: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` items was drawn in each row of ``index`` (rows, n)."""
    rows = index.shape[0]
    flat = (np.arange(rows)[:, None] * n + index).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def minimum_detectable_effect(
    se: float, df: float, alpha: float = ALPHA, power: float = POWER
) -> float:
    """The smallest true difference that a two-sided Student-t test at level ``alpha``, with
    standard error ``se`` on ``df`` degrees of freedom, detects with probability ``power``.

    It is the deciding test's own power (:func:`hierarchical_bootstrap`'s standard error and
    degrees of freedom): the verdicts are read from that interval, so its width is what limits
    them. When the seeds dominate, ``se`` is the SD of the per-seed differences over sqrt(K) and
    ``df`` is K - 1. Solved exactly with the noncentral t rather than the textbook
    (t_{1-alpha/2} + t_{power}) * se, which with three seeds (df 2) understates the MDE by about
    5% (its power is 77%, not 80%); the opposite tail's share (below 1e-6) is left out. Infinite
    without a standard error (one seed), 0 when ``se`` is 0.
    """
    if not (np.isfinite(se) and np.isfinite(df) and df > 0):
        return float("inf")
    if se == 0:
        return 0.0
    return float(se * _noncentrality(df, alpha, power))


def _noncentrality(df: float, alpha: float, power: float) -> float:
    critical = stats.t.ppf(1 - alpha / 2, df)
    approximate = critical + stats.t.ppf(power, df)
    return float(
        optimize.brentq(
            lambda delta: stats.nct.sf(critical, df, delta) - power, 0.0, 4 * approximate + 10
        )
    )


def seeds_needed(
    effect: float,
    seed_sd: float,
    sample_se: float = 0.0,
    samples: int | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
    most: int = 1000,
) -> int | None:
    """How many seeds make the minimum detectable effect at most ``|effect|``.

    ``seed_sd`` is the SD of the per-seed mean differences and ``sample_se`` the test set's share
    of the standard error (:class:`Hierarchical`'s fields): with n seeds the standard error is
    sqrt(seed_sd^2 / n + sample_se^2), on Welch-Satterthwaite degrees of freedom (``samples``
    test samples; None: many). More seeds do not shrink the test set's share, so when that share
    alone hides ``effect`` no number of seeds will do: None (use more test samples). None also
    when more than ``most`` seeds would be needed, or nothing is known (NaN).
    """
    effect = abs(float(effect))
    if not (np.isfinite(effect) and np.isfinite(seed_sd) and np.isfinite(sample_se)) or effect == 0:
        return None
    sample_df = (samples - 1) if samples and samples > 1 else np.inf
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    if z * sample_se >= effect:
        return None
    for n in range(2, most + 1):
        seed_var, sample_var = seed_sd**2 / n, sample_se**2
        variance = seed_var + sample_var
        if variance == 0:
            return n
        denominator = seed_var**2 / (n - 1) + (
            sample_var**2 / sample_df if np.isfinite(sample_df) else 0.0
        )
        df = variance**2 / denominator if denominator > 0 else np.inf
        df = min(max(df, n - 1), 1e6)
        if minimum_detectable_effect(np.sqrt(variance), df, alpha, power) <= effect:
            return n
    return None


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence).

    Sorted ascending, the i-th smallest of m p-values is multiplied by m - i + 1, a running
    maximum keeps the order, and values are capped at 1; a hypothesis is rejected at level alpha
    when its adjusted p-value is below alpha. NaN marks a comparison that was not tested: it is
    left out of the family and stays NaN.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = tested.size
    if m == 0:
        return adjusted
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def t_test(values, null: float = 0.0, confidence: float = 0.95) -> tuple[Interval, float]:
    """Mean over seeds with its Student-t interval (:func:`mean_ci`) and the two-sided p-value
    for ``null``; NaN p-value with fewer than two values."""
    interval = mean_ci(values, confidence)
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return interval, float("nan")
    sd = x.std(ddof=1)
    if sd == 0:
        return interval, float(x.mean() == null)
    statistic = (x.mean() - null) / (sd / np.sqrt(x.size))
    return interval, float(2 * stats.t.sf(abs(statistic), x.size - 1))


def seed_mde(values, alpha: float = ALPHA, power: float = POWER) -> float:
    """:func:`minimum_detectable_effect` of a mean over seeds (Student t on K - 1 df)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("inf")
    return minimum_detectable_effect(x.std(ddof=1) / np.sqrt(x.size), x.size - 1, alpha, power)
