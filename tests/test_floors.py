"""Floors and the learning gate (studylib.floors): a record clears its trivial predictor's score
only by the margin, and a comparison of runs at their floor gets no verdict. How the floors are
computed is tested in test_pose.py; the tables that show them, in test_report.py.
"""

import pytest

from studylib import floors


def pose_metrics(pckh, floor):
    return {"pckh": pckh, "floor": {"pckh": floor}}


def test_clearance_needs_the_margin_above_the_floor():
    assert floors.clearance(pose_metrics(40.0, 12.0)).cleared
    assert not floors.clearance(pose_metrics(30.0, 12.0)).cleared
    assert floors.clearance({"nme": 0.05, "nme_mean_shape": 0.2}).cleared
    assert not floors.clearance({"nme": 0.12, "nme_mean_shape": 0.2}).cleared
    # A record without its floor cannot clear it.
    assert not floors.clearance({"pckh": 90.0}).cleared
    with pytest.raises(ValueError, match="neither 'pckh'"):
        floors.clearance({"accuracy": 1.0})


def test_gate_fails_on_floor_level_records_and_names_them():
    learnt = [dict(pose_metrics(60.0, 11.4), setting="a", seed=s) for s in (0, 1)]
    at_floor = [dict(pose_metrics(10.6, 11.4), setting="b", seed=0)]
    passed, reason = floors.gate(learnt)
    assert passed and "all 2 runs" in reason
    passed, reason = floors.gate(learnt + at_floor)
    assert not passed and "1 of 3 runs did not clear" in reason and "b seed 0" in reason
    assert floors.gate([]) == (False, "no runs")
