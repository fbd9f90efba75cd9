"""LSP and LSPET (studylib.data.real.lsp): the two files' opposite flag conventions, unlabelled
joints, malformed ``.mat`` errors, the mapping onto MPII's joints and the pose norms, and small
subsets of the real sets. Tests that need the real sets skip (saying how to point
``STUDYLIB_DATA`` at them) when they are absent."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from helpers import require_real_data
from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII
from studylib.data.real import (
    LSP_JOINTS,
    box_from_points,
    load_lsp,
    lsp_norms,
    lsp_to_mpii,
    read_lsp_joints,
    read_lspet_joints,
)


def _lsp_style_joints(n: int = 3) -> np.ndarray:
    """(n, 14, 3) joints with coordinates 10 + joint + 100 * image and flag 1 on joint 4."""
    joints = np.zeros((n, 14, 3))
    joints[..., 0] = 10 + np.arange(14) + 100 * np.arange(n)[:, None]
    joints[..., 1] = 20 + 2 * np.arange(14)
    joints[:, 4, 2] = 1
    return joints


def test_lsp_and_lspet_flags_mean_opposite_things(tmp_path):
    joints = _lsp_style_joints()
    scipy.io.savemat(tmp_path / "lsp.mat", {"joints": joints.transpose(2, 1, 0)})
    scipy.io.savemat(tmp_path / "lspet.mat", {"joints": joints.transpose(1, 2, 0)})
    lsp = read_lsp_joints(tmp_path / "lsp.mat")
    lspet = read_lspet_joints(tmp_path / "lspet.mat")
    np.testing.assert_array_equal(lsp.xy, joints[..., :2])
    np.testing.assert_array_equal(lspet.xy, joints[..., :2])
    # LSP: flag 1 = occluded, so joint 4 is the only occluded joint.
    assert lsp.occluded[:, 4].all() and lsp.occluded.sum() == 3
    # LSPET: flag 1 = visible, so joint 4 is the only visible one; the rest are occluded.
    assert not lspet.occluded[:, 4].any() and lspet.occluded.sum() == 3 * 13
    assert lsp.labelled.all() and lspet.labelled.all()


def test_lspet_joints_at_origin_are_unlabelled(tmp_path):
    joints = _lsp_style_joints()
    joints[..., 2] = 1
    joints[0, 7, :2] = 0  # unlabelled, flag says visible
    joints[1, 12] = 0  # unlabelled with flag 0
    scipy.io.savemat(tmp_path / "lspet.mat", {"joints": joints.transpose(1, 2, 0)})
    raw = read_lspet_joints(tmp_path / "lspet.mat")
    assert not raw.labelled[0, 7] and not raw.labelled[1, 12]
    assert raw.labelled.sum() == 3 * 14 - 2
    assert not raw.occluded[~raw.labelled].any()
    mapped, valid, _ = lsp_to_mpii(raw)
    assert not valid[0, MPII.index("r_elbow")] and not valid[1, MPII.index("upper_neck")]
    np.testing.assert_array_equal(mapped[0, MPII.index("r_elbow")], 0.0)
    np.testing.assert_array_equal(mapped[1, MPII.index("upper_neck")], 0.0)


def test_lsp_malformed_mat_errors_name_file_key_and_shape(tmp_path):
    path = tmp_path / "joints.mat"
    scipy.io.savemat(path, {"points": np.zeros((3, 14, 2))})
    with pytest.raises(ValueError, match=r"joints\.mat.*'joints'.*\(3, 14, N\)"):
        read_lsp_joints(path)
    scipy.io.savemat(path, {"joints": np.zeros((14, 3, 2))})
    with pytest.raises(ValueError, match=r"joints\.mat.*'joints'.*\(3, 14, N\).*\(14, 3, 2\)"):
        read_lsp_joints(path)
    scipy.io.savemat(path, {"joints": np.zeros((3, 14, 2))})
    with pytest.raises(ValueError, match=r"'joints'.*\(14, 3, N\)"):
        read_lspet_joints(path)
    flags = _lsp_style_joints()
    flags[0, 0, 2] = 2
    scipy.io.savemat(path, {"joints": flags.transpose(2, 1, 0)})
    with pytest.raises(ValueError, match="flags must be 0 or 1"):
        read_lsp_joints(path)
    path.write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match=r"joints\.mat"):
        read_lsp_joints(path)


def test_lsp_mapping_onto_mpii_and_norms(tmp_path):
    joints = _lsp_style_joints(2)
    scipy.io.savemat(tmp_path / "lsp.mat", {"joints": joints.transpose(2, 1, 0)})
    raw = read_lsp_joints(tmp_path / "lsp.mat")
    mapped, valid, occluded = lsp_to_mpii(raw)
    for i, name in enumerate(LSP_JOINTS):
        mpii_name = "upper_neck" if name == "neck" else name
        np.testing.assert_array_equal(mapped[:, MPII.index(mpii_name)], raw.xy[:, i])
    pelvis, thorax = MPII.index("pelvis"), MPII.index("thorax")
    np.testing.assert_allclose(mapped[:, pelvis], (raw.xy[:, 2] + raw.xy[:, 3]) / 2)
    np.testing.assert_allclose(mapped[:, thorax], (raw.xy[:, 8] + raw.xy[:, 9]) / 2)
    assert not valid[:, [pelvis, thorax]].any() and valid.sum() == 2 * 14
    assert occluded[:, MPII.index("l_knee")].all() and occluded.sum() == 2
    _, derived_valid, _ = lsp_to_mpii(raw, derived_joints=True)
    assert derived_valid.all()
    norms = lsp_norms(raw)

    def length(a, b):
        return np.linalg.norm(raw.xy[:, a] - raw.xy[:, b], axis=-1)

    np.testing.assert_allclose(norms["torso"], length(9, 2))  # left shoulder, right hip
    np.testing.assert_allclose(norms["head_segment"], length(12, 13))  # neck, head top
    np.testing.assert_allclose(norms["head"], 0.75 * norms["head_segment"])
    raw.labelled[0, 9] = False  # left shoulder missing: the other diagonal
    norms = lsp_norms(raw)
    assert norms["torso"][0] == pytest.approx(np.linalg.norm(raw.xy[0, 8] - raw.xy[0, 3]))


def test_real_lsp_and_lspet_conventions():
    root = require_real_data("lsp")
    require_real_data("lspet")
    lsp = read_lsp_joints(root / "lsp" / "joints.mat")
    lspet = read_lspet_joints(root / "lspet" / "joints.mat")
    assert len(lsp) == 2000 and len(lspet) == 10000
    assert lsp.labelled.all()
    assert 0.02 < lsp.occluded.mean() < 0.2  # a minority of LSP joints is occluded (flag 1)
    assert (~lspet.labelled).any() and (lspet.xy[~lspet.labelled] == 0).all()
    assert lspet.labelled.sum(axis=1).min() >= 1


def test_load_lsp_small_subsets(tmp_path):
    root = require_real_data("lsp")
    require_real_data("lspet")
    test = load_lsp("test", 64, root=root, cache_dir=tmp_path, limit=4)
    assert isinstance(test, KeypointSet) and len(test) == 4 and test.spec is MPII
    assert test.info["samples"][0] == "lsp/im1001.jpg"
    assert test.info["derived_joints"]["pelvis"]["valid"] is False
    raw = read_lsp_joints(root / "lsp" / "joints.mat")
    mapped, valid, occluded = lsp_to_mpii(raw)
    for k in range(4):
        box = box_from_points(raw.xy[1000 + k], raw.labelled[1000 + k], margin=1.6)
        np.testing.assert_allclose(
            box.to_source(test.joints[k][valid[1000 + k]], 64),
            mapped[1000 + k][valid[1000 + k]],
            atol=1e-3,
        )
        assert test.norms["torso"][k] == pytest.approx(
            lsp_norms(raw)["torso"][1000 + k] * 64 / box.size, rel=1e-5
        )
    np.testing.assert_array_equal(test.occluded, occluded[1000:1004])
    cache_files = list((tmp_path / "real").glob("lsp-test-64px-*.npz"))
    assert len(cache_files) == 1
    again = load_lsp("test", 64, root=root, cache_dir=tmp_path, limit=4)
    np.testing.assert_array_equal(again.images, test.images)

    train = load_lsp("train", 32, root=root, cache_dir=tmp_path, limit=6, derived_joints=True)
    assert train.info["samples"][0] == "lspet/im00001.jpg"
    lspet = read_lspet_joints(root / "lspet" / "joints.mat")
    _, lspet_valid, _ = lsp_to_mpii(lspet, derived_joints=True)
    np.testing.assert_array_equal(train.valid, lspet_valid[:6])
