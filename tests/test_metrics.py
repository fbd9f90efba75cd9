"""Metrics (studylib.metrics) on hand-made cases: PCK and PCKh, MPII's head sizes and table,
NME, CED, AUC and the failure rate."""

import numpy as np
import pytest

from studylib.metrics import (
    auc,
    ced,
    failure_rate,
    inter_ocular_distance,
    mpii_head_sizes,
    mpii_table,
    nme,
    pck,
    pckh,
)


def test_pckh_counts_errors_at_most_half_the_head_size():
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[0, 0] = [5.0, 0.0]  # head size 10: error 5 is exactly 0.5 -> correct (<=)
    pred[0, 1] = [5.01, 0.0]  # just over -> wrong
    pred[1, 2] = [0.0, 3.0]  # head size 4: 0.75 -> wrong
    visible = np.ones((2, 3), dtype=bool)
    result = pckh(pred, gt, visible, head_sizes=np.array([10.0, 4.0]))
    assert result.per_joint.tolist() == [100.0, 50.0, 50.0]
    assert result.mean == pytest.approx(100 * 4 / 6)


def test_pckh_ignores_unscored_joints():
    gt = np.zeros((2, 2, 2))
    pred = np.full((2, 2, 2), 100.0)
    pred[0] = 0
    visible = np.array([[True, True], [False, False]])
    result = pckh(pred, gt, visible, np.array([1.0, 1.0]))
    assert result.per_joint.tolist() == [100.0, 100.0]
    assert result.counts.tolist() == [1, 1]


def test_pckh_joint_never_scored_is_nan():
    result = pckh(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.array([[True, False]]), np.ones(1))
    assert result.per_joint[0] == 100.0 and np.isnan(result.per_joint[1])


def test_pck_threshold_scales_with_the_normaliser():
    gt = np.zeros((1, 1, 2))
    pred = np.array([[[2.0, 0.0]]])
    assert pck(pred, gt, np.ones((1, 1), bool), np.array([10.0]), 0.2).mean == 100.0
    assert pck(pred, gt, np.ones((1, 1), bool), np.array([9.0]), 0.2).mean == 0.0


def test_mpii_head_size_is_0_6_of_the_box_diagonal():
    boxes = np.array([[[0.0, 0.0], [30.0, 40.0]]])
    assert mpii_head_sizes(boxes).tolist() == [pytest.approx(30.0)]


def test_mpii_table_leaves_out_pelvis_and_thorax():
    gt = np.zeros((1, 16, 2))
    pred = np.zeros((1, 16, 2))
    pred[0, [6, 7]] = 100.0  # pelvis and thorax wrong: Total must not see them
    pred[0, 0] = 100.0  # right ankle wrong
    table = mpii_table(pckh(pred, gt, np.ones((1, 16), bool), np.ones(1)))
    assert table["Ank."] == 50.0
    assert table["Total"] == pytest.approx(100 * 13 / 14)
    assert list(table) == ["Head", "Sho.", "Elb.", "Wri.", "Hip", "Kne.", "Ank.", "Total"]


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="visible must be"):
        pckh(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), np.ones((3, 2), bool), np.ones(2))
    with pytest.raises(ValueError, match="normalizer must be > 0"):
        pckh(np.zeros((1, 3, 2)), np.zeros((1, 3, 2)), np.ones((1, 3), bool), np.zeros(1))


def test_nme_on_a_hand_made_face():
    gt = np.zeros((1, 68, 2))
    gt[0, 36] = [0.0, 0.0]
    gt[0, 45] = [10.0, 0.0]
    pred = gt.copy()
    pred[0, :34, 0] += 1.0  # half the points off by 1 px -> mean error 0.5 px
    iod = inter_ocular_distance(gt)
    assert iod.tolist() == [10.0]
    assert nme(pred, gt, iod).tolist() == [pytest.approx(0.05)]
    visible = np.zeros((1, 68), bool)
    visible[0, :34] = True
    assert nme(pred, gt, iod, visible).tolist() == [pytest.approx(0.1)]


def test_ced_auc_and_failure_rate():
    errors = np.array([0.01, 0.03, 0.05, 0.2])
    thresholds, fraction = ced(errors, 0.1, 11)
    assert fraction[0] == 0 and fraction[-1] == 0.75
    assert failure_rate(errors, 0.1) == 0.25
    assert failure_rate(errors, 0.04) == 0.5
    assert auc(np.zeros(5), 0.08) == pytest.approx(1.0, abs=1e-3)
    assert auc(np.full(5, 0.5), 0.08) == 0.0
    # Uniform errors on [0, 0.08]: the CED is the diagonal, area one half.
    assert auc(np.linspace(0, 0.08, 10001), 0.08) == pytest.approx(0.5, abs=1e-3)
