"""MPII (studylib.data.real.mpii): the JSON and ``valid_gt.mat`` readers and their errors, the
reference PCKh against MPII's standard evaluation, and the fixture loader with head sizes. Tests
that need MPII skip (saying how to point ``STUDYLIB_DATA`` at it) when it is absent."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from helpers import require_real_data
from studylib import metrics
from studylib.data.keypoints import MPII
from studylib.data.real import (
    CropBox,
    check_table,
    evaluation_check,
    load_mpii_fixture,
    mpii_prediction_pckh,
    mpii_reference_pckh,
    read_mpii_gt,
    read_mpii_json,
    standard_mpii_evaluation,
)


def test_mpii_json_reader_and_errors(tmp_path):
    root = require_real_data("mpii_fixture")
    people = read_mpii_json(root / "fixtures" / "mmpose" / "mpii" / "test_mpii.json")
    assert len(people) == 5 and people.joints.shape == (5, 16, 2)
    assert (~people.annotated).sum() == 4 and (people.joints[~people.annotated] == -1).all()
    person = {"image": "a.jpg", "center": [1, 2], "joints": [[0, 0]] * 16, "joints_vis": [1] * 16}
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([person]))
    with pytest.raises(ValueError, match=r"mpii\.json: person 0: missing key\(s\) \['scale'\]"):
        read_mpii_json(path)
    path.write_text(json.dumps([{**person, "scale": 1.0, "joints": [[0, 0]] * 14}]))
    with pytest.raises(ValueError, match=r"'joints' must have shape \(16, 2\), got \(14, 2\)"):
        read_mpii_json(path)
    path.write_text("[{")
    with pytest.raises(ValueError, match=r"mpii\.json: malformed JSON"):
        read_mpii_json(path)


def test_mpii_gt_mat_malformed_errors(tmp_path):
    path = tmp_path / "valid_gt.mat"
    good = {
        "pos_gt_src": np.zeros((16, 2, 4)),
        "headboxes_src": np.zeros((2, 2, 4)),
        "jnt_missing": np.zeros((16, 4)),
    }
    scipy.io.savemat(path, good)
    assert read_mpii_gt(path).predictions is None
    with pytest.raises(ValueError, match="no 'pos_pred_src'"):
        mpii_prediction_pckh(path)
    scipy.io.savemat(path, {k: v for k, v in good.items() if k != "headboxes_src"})
    with pytest.raises(ValueError, match=r"valid_gt\.mat: no key 'headboxes_src'.*\(2, 2, 4\)"):
        read_mpii_gt(path)
    scipy.io.savemat(path, {**good, "pos_gt_src": np.zeros((14, 2, 4))})
    with pytest.raises(ValueError, match=r"'pos_gt_src' must have shape \(16, 2, N\)"):
        read_mpii_gt(path)


def test_mpii_reference_pckh_matches_the_standard_evaluation():
    root = require_real_data("mpii")
    mat_path = root / "mpii" / "valid_gt.mat"
    gt_dict = scipy.io.loadmat(mat_path)
    official, official_per_joint = standard_mpii_evaluation(gt_dict, gt_dict["pos_pred_src"])
    result = mpii_prediction_pckh(mat_path)
    row = mpii_reference_pckh(mat_path)
    assert list(row) == ["Head", "Sho.", "Elb.", "Wri.", "Hip", "Kne.", "Ank.", "Total"]

    # Every joint's PCKh, and the total over all joints but pelvis and thorax, agree exactly.
    np.testing.assert_allclose(result.per_joint, official_per_joint, atol=1e-6)
    assert row["Total"] == pytest.approx(official["Mean"], abs=1e-6)

    # Groups: like the official script, mpii_table averages the two sides' percentages, so every
    # pair group agrees exactly. "Head": the Python script scores the head top only; MPII's MATLAB
    # table (and mpii_table) averages the upper neck and the head top.
    pairs = {
        "Sho.": "Shoulder",
        "Elb.": "Elbow",
        "Wri.": "Wrist",
        "Hip": "Hip",
        "Kne.": "Knee",
        "Ank.": "Ankle",
    }
    for ours, theirs in pairs.items():
        assert row[ours] == pytest.approx(official[theirs], abs=1e-6), ours
    assert official["Head"] == pytest.approx(official_per_joint[MPII.index("head_top")], abs=1e-9)
    head = [MPII.index("upper_neck"), MPII.index("head_top")]
    assert row["Head"] == pytest.approx(official_per_joint[head].mean(), abs=1e-6)

    # Sanity of the stored predictions: a reasonable model, and no +-1 pixel convention shift
    # matters (both arrays are MATLAB 1-based).
    assert 75 < row["Total"] < 95
    gt = read_mpii_gt(mat_path)
    check = evaluation_check(mat_path)
    assert check["max_per_joint_difference"] < 1e-6 and check["people"] == gt.joints.shape[0]
    assert check["table_ours"]["Total"] == pytest.approx(official["Mean"], abs=1e-6)
    table = check_table(check)
    assert list(table.columns) == list(row) and len(table) == 2
    np.testing.assert_allclose(table.iloc[0].drop("Head"), table.iloc[1].drop("Head"), atol=1e-6)
    for shift in (-1.0, 1.0):
        shifted = metrics.pckh(gt.predictions + shift, gt.joints, ~gt.missing, gt.head_sizes)
        assert abs(metrics.mpii_table(shifted)["Total"] - row["Total"]) < 0.1


def test_load_mpii_fixture_with_head_sizes(tmp_path):
    root = require_real_data("mpii_fixture")
    require_real_data("mpii")
    people = load_mpii_fixture(image_size=64, root=root, cache_dir=tmp_path)
    assert len(people) == 5 and people.spec is MPII
    json_people = read_mpii_json(root / "fixtures" / "mmpose" / "mpii" / "test_mpii.json")
    np.testing.assert_array_equal(people.valid, json_people.annotated)
    # MPII's scale is tied to the head box, so the head size in the crop is nearly constant.
    assert set(people.norms) == {"head", "torso"}
    np.testing.assert_allclose(people.norms["head"], people.norms["head"][0], rtol=1e-3)
    side = 1.25 * 200 * json_people.scales
    center = json_people.centers + np.stack([np.zeros(5), 15 * json_people.scales], axis=1) - 1
    for k in range(5):
        box = CropBox(center[k, 0], center[k, 1], side[k])
        mask = people.valid[k]
        np.testing.assert_allclose(
            box.to_source(people.joints[k][mask], 64), json_people.joints[k][mask] - 1, atol=1e-2
        )
