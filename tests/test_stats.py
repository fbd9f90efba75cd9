"""The study's statistics (studylib.stats): the Student-t interval, the paired bootstrap, the
hierarchical interval that decides verdicts, its power, Holm, the t-test over seeds."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from studylib import stats
from studylib.stats import mean_ci, paired_bootstrap


def simulate(rng, seeds, samples, effect, seed_sd, sample_sd, cell_sd):
    """Paired per-sample scores (seeds, samples) whose difference is ``effect`` plus a seed
    effect (one per training run), a sample effect (shared by every seed: the same test
    samples) and cell noise; both settings share a per-sample difficulty, as on a real test set."""
    difficulty = rng.normal(50, 10, samples)
    difference = (
        effect
        + rng.normal(0, seed_sd, (seeds, 1))
        + rng.normal(0, sample_sd, (1, samples))
        + rng.normal(0, cell_sd, (seeds, samples))
    )
    b = difficulty + rng.normal(0, 1, (seeds, samples))
    return b + difference, b


def coverage(seeds, samples, seed_sd, sample_sd, cell_sd, reps=300, effect=1.0):
    rng = np.random.default_rng(7)
    hier = plain = 0
    for rep in range(reps):
        a, b = simulate(rng, seeds, samples, effect, seed_sd, sample_sd, cell_sd)
        h = stats.hierarchical_bootstrap(a, b, resamples=400, seed=rep)
        p = stats.paired_bootstrap(a, b, resamples=400, seed=rep)
        hier += h.low <= effect <= h.high
        plain += p.low <= effect <= p.high
    return hier / reps, plain / reps


def test_the_hierarchical_interval_covers_when_seeds_dominate():
    # Three seeds whose differences vary far more than the test set resolves: the interval
    # over test samples alone misses the truth most of the time.
    hier, plain = coverage(seeds=3, samples=60, seed_sd=2.0, sample_sd=0.5, cell_sd=3.0)
    assert 0.91 <= hier <= 0.985
    assert plain < 0.6


def test_the_hierarchical_interval_covers_when_the_test_set_dominates():
    # No seed effect: the interval must not be needlessly wide either (the seed x sample
    # interaction, which the crossed bootstrap counts twice, is counted once).
    hier, plain = coverage(seeds=3, samples=80, seed_sd=0.0, sample_sd=1.5, cell_sd=3.0)
    assert 0.91 <= hier <= 0.985
    assert plain >= 0.85


def test_interval_p_value_and_mde_agree():
    rng = np.random.default_rng(1)
    for effect in (0.0, 0.8, 3.0):
        a, b = simulate(rng, 4, 100, effect, 0.5, 0.5, 2.0)
        h = stats.hierarchical_bootstrap(a, b)
        assert h.low <= h.estimate <= h.high
        assert (h.p_value < 0.05) == (h.low > 0 or h.high < 0)
        assert h.mde == pytest.approx(stats.minimum_detectable_effect(h.se, h.df))
        assert h.seeds == 4 and h.samples == 100 and h.df >= 1
        assert h.estimate == pytest.approx((a - b).mean())


def test_one_seed_gives_no_interval_and_no_power():
    a, b = simulate(np.random.default_rng(0), 1, 50, 1.0, 1.0, 1.0, 1.0)
    h = stats.hierarchical_bootstrap(a, b)
    assert np.isnan(h.low) and np.isnan(h.p_value) and h.mde == np.inf
    with pytest.raises(ValueError, match="seeds, samples"):
        stats.hierarchical_bootstrap(a[0], b[0])


def test_unscored_samples_are_left_out():
    rng = np.random.default_rng(2)
    a, b = simulate(rng, 3, 40, 1.0, 0.5, 0.5, 1.0)
    with_gaps = a.copy()
    with_gaps[:, :5] = np.nan  # e.g. a joint invisible in those test images
    h = stats.hierarchical_bootstrap(with_gaps, b)
    assert h.samples == 35
    assert h.estimate == pytest.approx((a - b)[:, 5:].mean())


def test_identical_scores_have_no_uncertainty():
    a = np.ones((3, 10))
    h = stats.hierarchical_bootstrap(a + 2, a)
    assert (h.estimate, h.low, h.high, h.p_value, h.mde) == (2, 2, 2, 0, 0)


def test_the_mde_has_the_stated_power():
    # Exactly: the two-sided t test at the MDE rejects with probability 0.8.
    for df in (2, 4, 30):
        mde = stats.minimum_detectable_effect(1.0, df)
        critical = scipy_stats.t.ppf(0.975, df)
        assert scipy_stats.nct.sf(critical, df, mde) == pytest.approx(0.8, abs=1e-6)
    # Many degrees of freedom: the textbook (z_0.975 + z_0.8) * se.
    assert stats.minimum_detectable_effect(2.0, 1e6) == pytest.approx(2 * 2.8016, rel=1e-3)
    # Three seeds: the textbook (t + t) * se understates it (its power is 77%).
    textbook = scipy_stats.t.ppf(0.975, 2) + scipy_stats.t.ppf(0.8, 2)
    assert textbook < stats.minimum_detectable_effect(1.0, 2) < 1.1 * textbook
    assert stats.minimum_detectable_effect(np.nan, 2) == np.inf


def test_the_mde_of_three_seeds_by_simulation():
    # Per-seed differences with SD 1; a true effect equal to the MDE is found 80% of the time.
    sd, n = 1.0, 3
    effect = stats.minimum_detectable_effect(sd / np.sqrt(n), n - 1)
    rng = np.random.default_rng(3)
    draws = rng.normal(effect, sd, (20000, n))
    t = draws.mean(axis=1) / (draws.std(axis=1, ddof=1) / np.sqrt(n))
    power = np.mean(np.abs(t) > scipy_stats.t.ppf(0.975, n - 1))
    assert power == pytest.approx(0.8, abs=0.015)
    assert stats.seed_mde(rng.normal(0, sd, n)) > 0


def test_seeds_needed_is_the_smallest_count_that_detects_the_effect():
    seed_sd, effect = 2.0, 1.1
    n = stats.seeds_needed(effect, seed_sd)
    mde = lambda k: stats.minimum_detectable_effect(seed_sd / np.sqrt(k), k - 1)  # noqa: E731
    assert mde(n) <= effect < mde(n - 1)
    assert stats.seeds_needed(effect, seed_sd, sample_se=0.1, samples=500) >= n
    # The test set's own noise hides the effect: no number of seeds helps.
    assert stats.seeds_needed(effect, seed_sd, sample_se=0.5) is None
    assert stats.seeds_needed(np.nan, seed_sd) is None


def test_holm_against_a_hand_computed_example():
    # Sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> 0.06
    # (the running maximum keeps the order). A NaN was not tested: it stays out of the family.
    adjusted = stats.holm([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, np.nan, 0.02])
    np.testing.assert_allclose(stats.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    assert np.isnan(stats.holm([np.nan])).all()


def test_t_test_over_seeds():
    interval, p = stats.t_test([1.0, 1.2, 0.8])
    assert interval.low > 0 and p == pytest.approx(
        scipy_stats.ttest_1samp([1.0, 1.2, 0.8], 0).pvalue
    )
    assert np.isnan(stats.t_test([1.0])[1])


def test_mean_ci_uses_student_t():
    interval = mean_ci([1.0, 2.0, 3.0])
    assert interval.estimate == 2.0
    assert interval.half_width == pytest.approx(4.302653 * 1.0 / 3**0.5, rel=1e-5)
    assert mean_ci([5.0]).format() == "5.0"
    assert interval.format() == "2.0 ± 2.5"


def test_paired_bootstrap_sees_a_consistent_difference():
    a = [0.5 + 0.01 * i for i in range(100)]
    b = [x - 0.1 for x in a]
    interval = paired_bootstrap(a, b)
    assert interval.estimate == pytest.approx(0.1)
    assert interval.excludes(0.0)
    noise = paired_bootstrap([1, -1] * 50, [0] * 100)
    assert not noise.excludes(0.0)
