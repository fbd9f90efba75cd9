"""Paired comparisons (studylib.compare): both intervals, the wording, the ledger's verdicts."""

import numpy as np
import pandas as pd
import pytest

from studylib import compare


def scores(offsets: dict[str, list[float]], samples: int = 200, noise: float = 1.0) -> pd.DataFrame:
    """Per-sample scores: every setting shares a per-sample difficulty; each seed of a setting is
    shifted by its offset."""
    rng = np.random.default_rng(0)
    difficulty = rng.normal(50, 10, samples)
    rows = []
    for setting, per_seed in offsets.items():
        for seed, offset in enumerate(per_seed):
            rows.append(
                pd.DataFrame(
                    {
                        "setting": setting,
                        "seed": seed,
                        "sample": np.arange(samples),
                        "score": difficulty + offset + rng.normal(0, noise, samples),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def test_a_consistent_difference_is_resolved_on_both_intervals():
    frame = scores({"ref": [0, 0, 0], "better": [2.0, 2.2, 1.8]})
    row = compare.paired_differences(frame, "ref", ["score"]).iloc[0]
    assert row["difference"] == pytest.approx(2.0, abs=0.2)
    assert 0 < row["low"] < row["high"] and 0 < row["seed_low"] < row["seed_high"]
    assert row["seeds"] == 3 and row["samples"] == 200
    text = compare.describe(row)
    assert "higher (better)" in text and "excludes 0 too" in text


def test_a_seed_effect_is_not_called_replicated():
    # The mean difference is large on the test set but flips sign between seeds.
    frame = scores({"ref": [0, 0, 0], "noisy": [8.0, -4.0, 2.0]})
    row = compare.paired_differences(frame, "ref", ["score"]).iloc[0]
    assert row["low"] > 0  # resolved over test samples ...
    assert row["seed_low"] < 0 < row["seed_high"]  # ... but not over seeds
    assert "may be a seed effect" in compare.describe(row, better="lower")
    assert "higher (worse)" in compare.describe(row, better="lower")


def test_one_seed_has_no_seed_interval_and_stays_inconclusive():
    frame = scores({"ref": [0], "better": [3.0]})
    row = compare.paired_differences(frame, "ref", ["score"]).iloc[0]
    assert np.isnan(row["seed_low"]) and row["low"] > 0
    assert "one seed" in compare.describe(row)
    assert "(seeds" not in compare.difference_table(pd.DataFrame([row])).iloc[0, 0]


def test_only_shared_seeds_are_paired_and_bad_references_are_named():
    frame = scores({"ref": [0, 0], "other": [1.0, 1.0, 1.0]})
    assert compare.paired_differences(frame, "ref", ["score"]).iloc[0]["seeds"] == 2
    with pytest.raises(ValueError, match="no runs of 'missing'"):
        compare.paired_differences(frame, "missing", ["score"])
    with pytest.raises(ValueError, match="better must be"):
        compare.describe(
            {
                "difference": 1,
                "low": 0.5,
                "high": 1.5,
                "setting": "a",
                "against": "b",
                "column": "c",
            },
            better="up",
        )


def test_sentences_skip_what_was_not_run():
    frame = scores({"ref": [0, 0], "a": [1.0, 1.2]})
    differences = compare.paired_differences(frame, "ref", ["score"])
    assert len(compare.sentences(differences, ["a", "never-run"], ["score"])) == 1
    assert compare.sentences(None, ["a"], ["score"]) == []


def test_sentences_skip_a_column_the_data_cannot_score():
    frame = scores({"ref": [0, 0], "a": [1.0, 1.2]}).assign(unscored=np.nan)
    differences = compare.paired_differences(frame, "ref", ["score", "unscored"])
    assert len(compare.sentences(differences, ["a"], ["score", "unscored"])) == 1


# ------------------------------------------------------------------ the deciding interval


def test_the_deciding_interval_sits_beside_the_other_two():
    frame = scores({"ref": [0, 0, 0], "noisy": [8.0, -4.0, 2.0]})
    row = compare.paired_differences(frame, "ref", ["score"]).iloc[0]
    # Over seeds and samples together: as wide as the seeds make it, not the test set alone.
    assert row["hier_low"] < 0 < row["hier_high"] and row["low"] > 0
    assert row["hier_high"] - row["hier_low"] > 5 * (row["high"] - row["low"])
    assert row["p_value"] > 0.05 and row["mde"] > abs(row["difference"])
    assert row["seed_sd"] > 0 and row["sample_se"] >= 0 and row["hier_df"] >= 2
    text = compare.describe(row)
    assert "(the interval that decides)" in text and "which includes 0" in text
    cell = compare.difference_table(pd.DataFrame([row]), deciding=True).iloc[0, 0]
    assert f"[{row['hier_low']:+.1f}, {row['hier_high']:+.1f}] (samples [" in cell
    assert "; seeds [" in cell


def test_a_consistent_difference_decides_replicated():
    frame = scores({"ref": [0, 0, 0], "better": [2.0, 2.2, 1.8]})
    row = compare.paired_differences(frame, "ref", ["score"]).iloc[0]
    assert 0 < row["hier_low"] < row["difference"] < row["hier_high"]
    verdict = compare.decide(row["hier_low"], row["hier_high"], +1, row["mde"], effect=1.1)
    assert verdict == "replicated"


# One test per verdict of compare.decide, on a claim of +1.1 (ACNN's Total) unless said. The
# rules are tried in the order of compare.DECISIONS.


def test_verdict_no_evidence_overrides_everything():
    # The interval would replicate, but a run is at its floor.
    assert compare.decide(0.3, 2.0, +1, mde=1.0, effect=1.1, cleared=False) == "no evidence"
    assert compare.DECISIONS[0] == compare.NO_EVIDENCE


def test_verdict_replicated():
    assert compare.decide(0.3, 2.0, +1, mde=1.0, effect=1.1, p_adjusted=0.01) == "replicated"
    # NME: lower is the paper's side.
    assert compare.decide(-2.0, -0.3, -1, mde=1.0) == "replicated"
    # Replicated even when underpowered: the interval found it.
    assert compare.decide(0.3, 4.0, +1, mde=3.0, effect=1.1) == "replicated"
    # Not once Holm's correction takes it above alpha.
    assert compare.decide(0.3, 2.0, +1, mde=1.0, effect=1.1, p_adjusted=0.2) != "replicated"


def test_verdict_no_effect_within_mde():
    # Inside +-1.1: an effect as large as the paper's is ruled out either way.
    assert compare.decide(-0.5, 0.6, +1, mde=0.9, effect=1.1) == "no effect within ±MDE"
    # No reported effect: the margin is the MDE.
    assert compare.decide(-0.5, 0.6, -1, mde=0.9) == "no effect within ±MDE"


def test_verdict_not_replicated():
    # Wholly below the paper's +1.1, reaching large negative effects.
    assert compare.decide(-3.0, -0.5, +1, mde=1.0, effect=1.1) == "not replicated"
    assert compare.decide(-1.5, 0.8, +1, mde=1.0, effect=1.1) == "not replicated"
    # No reported effect: the interval lies on the other side of 0 (NME higher, claim lower).
    assert compare.decide(0.4, 2.0, -1, mde=1.0) == "not replicated"


def test_verdict_underpowered():
    # The interval holds 0 and the paper's effect, and the design could not see +1.1.
    assert compare.decide(-2.0, 3.0, +1, mde=2.5, effect=1.1) == "underpowered"
    assert compare.decide(np.nan, np.nan, +1, mde=np.inf, effect=1.1) == "underpowered"


def test_verdict_inconclusive():
    # Powered for +1.1, yet the interval holds both 0 and +1.1 (a 1-in-5 outcome).
    assert compare.decide(-0.2, 1.5, +1, mde=1.0, effect=1.1) == "inconclusive"
    # No reported effect and an interval wider than +-MDE around 0: power cannot be judged.
    assert compare.decide(-1.0, 1.5, +1, mde=1.2) == "inconclusive"
    with pytest.raises(ValueError, match="expected must be"):
        compare.decide(0, 1, 0, 1.0)
