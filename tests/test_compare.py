"""Paired comparisons: both intervals, the wording, the ledger's verdicts."""

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
    assert compare.verdict(row, 1) == "replicated"
    assert compare.verdict(row, -1) == "contradicted"
    text = compare.describe(row)
    assert "higher (better)" in text and "excludes 0 too" in text


def test_a_seed_effect_is_not_called_replicated():
    # The mean difference is large on the test set but flips sign between seeds.
    frame = scores({"ref": [0, 0, 0], "noisy": [8.0, -4.0, 2.0]})
    row = compare.paired_differences(frame, "ref", ["score"]).iloc[0]
    assert row["low"] > 0  # resolved over test samples ...
    assert row["seed_low"] < 0 < row["seed_high"]  # ... but not over seeds
    assert compare.verdict(row, 1) == "inconclusive"
    assert "may be a seed effect" in compare.describe(row, better="lower")
    assert "higher (worse)" in compare.describe(row, better="lower")


def test_one_seed_has_no_seed_interval_and_stays_inconclusive():
    frame = scores({"ref": [0], "better": [3.0]})
    row = compare.paired_differences(frame, "ref", ["score"]).iloc[0]
    assert np.isnan(row["seed_low"]) and row["low"] > 0
    assert compare.verdict(row, 1) == "inconclusive"
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
    with pytest.raises(ValueError, match="expected must be"):
        compare.verdict({"low": 0.5, "high": 1.5}, 0)


def test_sentences_skip_what_was_not_run():
    frame = scores({"ref": [0, 0], "a": [1.0, 1.2]})
    differences = compare.paired_differences(frame, "ref", ["score"])
    assert len(compare.sentences(differences, ["a", "never-run"], ["score"])) == 1
    assert compare.sentences(None, ["a"], ["score"]) == []


def test_sentences_skip_a_column_the_data_cannot_score():
    frame = scores({"ref": [0, 0], "a": [1.0, 1.2]}).assign(unscored=np.nan)
    differences = compare.paired_differences(frame, "ref", ["score", "unscored"])
    assert len(compare.sentences(differences, ["a"], ["score", "unscored"])) == 1
