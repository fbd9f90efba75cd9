"""Report tables (studylib.report): the PCKh table with each setting's floor and gate, and the
records' provenance grouped by setting."""

import numpy as np
import pandas as pd
import pytest

from helpers import pose_sets
from studylib import pose, report, results
from studylib.config import PoseConfig
from studylib.io import read_json


@pytest.fixture(scope="module")
def floor_data():
    return pose_sets(24, 12)


def test_tables_show_the_floor_and_the_gate(floor_data, tmp_path):
    train, test = floor_data
    folders = []
    for setting, noise in (("good", 0.3), ("bad", 30.0)):
        pred = test.joints + np.random.default_rng(0).normal(0, noise, test.joints.shape)
        metrics, per_sample = pose.pose_metrics(pred, test)
        metrics["floor"] = pose.pose_floor(train, test, 4, 1.0, 2)
        folder = results.run_dir(tmp_path, "freezing", "synthetic", setting, 0)
        config = PoseConfig.from_profile("smoke").to_dict()
        folders.append(
            results.write_record(folder, config, metrics, pd.DataFrame(), per_sample, {})
        )
    table = report.pckh_table(folders)
    assert (
        table.loc["good", "seeds cleared"] == "1/1" and table.loc["bad", "seeds cleared"] == "0/1"
    )
    floor = read_json(folders[0] / "metrics.json")["floor"]["pckh"]
    assert table.loc["good", "floor (constant pose)"] == f"{floor:.1f}"
    assert {"AUC", "mean error", "seeds cleared"} <= set(table.columns)


def test_record_provenance_groups_seeds_and_marks_dirty_code(tmp_path):
    from studylib import report

    for seed, dirty in ((0, False), (1, True)):
        folder = results.run_dir(tmp_path, "freezing", "synthetic", "acnn-A-B-C", seed)
        prov = {
            "git_commit": "0123456789abcdef",
            "git_dirty": dirty,
            "device_name": "cpu",
            "torch_version": "2.13.0",
            "wall_time_s": 60.0,
        }
        results.write_record(
            folder, {"profile": "quick"}, {"pckh": 1.0}, pd.DataFrame(), pd.DataFrame(), prov
        )
    table = report.record_provenance(results.find_runs(tmp_path))
    row = table.loc[("freezing", "synthetic", "acnn-A-B-C")]
    assert row["commit"] == "0123456789, 0123456789+dirty"
    assert (row["profile"], row["seeds"], row["minutes"]) == ("quick", 2, 2.0)
    assert report.record_provenance([]).empty
