"""Real face sets (studylib.data.real.faces): 300-W ``.pts`` files, COFW ``.mat`` files (also
MATLAB v7.3), COCO-style JSON (mmpose's fixtures) and their visibility flags, each with the errors
that name a malformed file. Tests that need real data skip (saying how to point
``STUDYLIB_DATA`` at it) when it is absent."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from helpers import require_real_data
from studylib import metrics
from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import FACE68
from studylib.data.real import (
    AFLW19,
    COFW29,
    coco_visibility,
    load,
    load_300w,
    load_cofw,
    load_face_fixture,
    read_coco_keypoints,
    read_cofw_mat,
    read_pts,
)

# --------------------------------------------------------------------------- 300-W .pts


PTS_POINTS = np.column_stack([np.arange(68) * 1.5, 100 - np.arange(68) * 0.25])


def _pts_text(points: np.ndarray, header: bool = True, declared: int | None = None) -> str:
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points)
    if not header:
        return body + "\n"
    n = len(points) if declared is None else declared
    return f"version: 1\nn_points:  {n}\n{{\n{body}\n}}\n"


def test_pts_with_and_without_header(tmp_path):
    (tmp_path / "a.pts").write_text(_pts_text(PTS_POINTS))
    (tmp_path / "b.pts").write_text(_pts_text(PTS_POINTS, header=False))
    np.testing.assert_allclose(read_pts(tmp_path / "a.pts"), PTS_POINTS)
    np.testing.assert_allclose(read_pts(tmp_path / "b.pts"), PTS_POINTS)


def test_pts_wrong_point_count_names_file_expected_and_got(tmp_path):
    path = tmp_path / "face_01.pts"
    path.write_text(_pts_text(PTS_POINTS[:67]))
    with pytest.raises(ValueError, match=r"face_01\.pts: expected 68 points, got 67"):
        read_pts(path)
    path.write_text(_pts_text(PTS_POINTS[:67], header=False))
    with pytest.raises(ValueError, match=r"face_01\.pts: expected 68 points, got 67"):
        read_pts(path)
    path.write_text(_pts_text(PTS_POINTS, declared=70))
    with pytest.raises(ValueError, match="n_points 70 but the file has 68"):
        read_pts(path)
    path.write_text(_pts_text(PTS_POINTS).replace("1.500 99.750", "1.500 oops"))
    with pytest.raises(ValueError, match=r"face_01\.pts:5: expected a point"):
        read_pts(path)


def test_load_300w_small_subset(tmp_path):
    root = require_real_data("300w")
    first = sorted((root / "300w" / "helen_testset").glob("*.pts"))[0]
    assert read_pts(first).shape == (68, 2)
    faces = load_300w("test", 64, root=root, cache_dir=tmp_path, limit=3)
    assert len(faces) == 3 and faces.spec is FACE68 and faces.valid.all()
    assert faces.info["samples"][0] == f"helen_testset/{first.stem}"
    expected = metrics.inter_ocular_distance(faces.joints)
    np.testing.assert_allclose(faces.norms["interocular"], expected, rtol=1e-5)
    inside = (faces.joints >= -0.5) & (faces.joints <= 63.5)
    assert inside.all()  # the landmarks' box with a margin keeps every point in the frame
    with pytest.raises(ValueError, match="split"):
        load_300w("val", 64, root=root, cache_dir=tmp_path)


# --------------------------------------------------------------------------- COFW .mat


def _cofw_arrays(n: int = 3):
    rng = np.random.default_rng(0)
    images = np.empty((n, 1), dtype=object)
    for i in range(n):
        shape = (60 + 5 * i, 50) if i % 2 == 0 else (60, 50 + 5 * i, 3)
        images[i, 0] = rng.integers(0, 256, shape, dtype=np.uint8)
    x = rng.uniform(10, 40, (n, 29))
    y = rng.uniform(10, 50, (n, 29))
    occluded = rng.random((n, 29)) < 0.3
    phis = np.concatenate([x, y, occluded.astype(float)], axis=1)
    bboxes = np.tile([8.0, 9.0, 35.0, 45.0], (n, 1))
    return images, phis, bboxes, occluded


def test_cofw_reader_on_a_small_mat(tmp_path):
    images, phis, bboxes, occluded = _cofw_arrays()
    path = tmp_path / "COFW_test.mat"
    scipy.io.savemat(path, {"IsT": images, "phisT": phis, "bboxesT": bboxes})
    data = read_cofw_mat(path)
    assert len(data) == 3
    np.testing.assert_allclose(data.landmarks[..., 0], phis[:, :29] - 1)  # 1-based -> 0-based
    np.testing.assert_allclose(data.landmarks[..., 1], phis[:, 29:58] - 1)
    np.testing.assert_array_equal(data.occluded, occluded)
    np.testing.assert_allclose(data.bboxes, bboxes - [1, 1, 0, 0])
    assert [im.shape for im in data.images] == [im.shape for im in images[:, 0]]
    faces = load_cofw("test", 32, mat_path=path, cache_dir=tmp_path / "cache")
    assert faces.spec is COFW29 and len(faces) == 3
    np.testing.assert_array_equal(faces.occluded, occluded)
    assert set(faces.norms) == {"interocular", "interpupil"}
    restored = KeypointSet.load(next((tmp_path / "cache" / "real").glob("cofw-test-*.npz")))
    assert restored.spec is COFW29


def test_cofw_malformed_mat_errors(tmp_path):
    images, phis, bboxes, _ = _cofw_arrays()
    path = tmp_path / "COFW_train.mat"
    scipy.io.savemat(path, {"IsTr": images, "bboxesTr": bboxes})
    with pytest.raises(ValueError, match=r"COFW_train\.mat: no COFW key 'phisTr'"):
        read_cofw_mat(path)
    scipy.io.savemat(path, {"IsTr": images, "phisTr": phis[:, :86], "bboxesTr": bboxes})
    with pytest.raises(ValueError, match=r"'phisTr' must have shape \(N, 87\), got \(3, 86\)"):
        read_cofw_mat(path)
    scipy.io.savemat(path, {"IsTr": images[:2], "phisTr": phis, "bboxesTr": bboxes})
    with pytest.raises(ValueError, match="'IsTr' must hold 3 images"):
        read_cofw_mat(path)
    scipy.io.savemat(path, {"IsTr": images, "phisTr": phis, "bboxesTr": bboxes[:, :3]})
    with pytest.raises(ValueError, match=r"'bboxesTr' must have shape \(3, 4\)"):
        read_cofw_mat(path)


def test_cofw_reader_on_a_matlab_v73_file(tmp_path):
    h5py = pytest.importorskip("h5py", reason="MATLAB v7.3 COFW files need h5py")
    images, phis, bboxes, occluded = _cofw_arrays()
    path = tmp_path / "COFW_train.mat"
    with h5py.File(path, "w", userblock_size=512) as handle:
        refs = []
        for i, image in enumerate(images[:, 0]):
            refs.append(handle.create_dataset(f"#refs#/{i}", data=image.T).ref)
        handle.create_dataset("IsTr", data=np.array(refs, dtype=h5py.ref_dtype)[None, :])
        handle.create_dataset("phisTr", data=phis.T)
        handle.create_dataset("bboxesTr", data=bboxes.T)
    header = b"MATLAB 7.3 MAT-file, written by the studylib tests".ljust(116, b" ")
    with open(path, "r+b") as handle:
        handle.write(header + b"\0" * 8 + b"\x00\x02" + b"IM")
    data = read_cofw_mat(path)
    np.testing.assert_allclose(data.landmarks[..., 0], phis[:, :29] - 1)
    np.testing.assert_array_equal(data.occluded, occluded)
    for read, written in zip(data.images, images[:, 0], strict=True):
        np.testing.assert_array_equal(read, written)


# --------------------------------------------------------------------------- COCO-style JSON


def test_face_fixtures_schemes_and_visibility(tmp_path):
    root = require_real_data("fixtures")
    mmpose = root / "fixtures" / "mmpose"
    cofw = read_coco_keypoints(mmpose / "cofw" / "test_cofw.json")
    assert cofw.keypoints.shape == (2, 29, 2) and set(np.unique(cofw.flags)) == {1.0, 2.0}
    valid, occluded = coco_visibility(cofw.flags)
    assert valid.all() and occluded.sum() == (cofw.flags == 1).sum() > 0
    aflw = read_coco_keypoints(mmpose / "aflw" / "test_aflw.json")
    assert aflw.keypoints.shape[1] == AFLW19.num_keypoints and np.isfinite(aflw.box_sizes).all()
    w300 = read_coco_keypoints(mmpose / "300w" / "test_300w.json")
    assert w300.keypoints.shape == (2, 68, 2)
    assert not coco_visibility(w300.flags)[1].any()  # all-1 flags carry no occlusion

    faces = load_face_fixture("cofw", image_size=64, root=root, cache_dir=tmp_path)
    assert faces.spec is COFW29 and faces.occluded.sum() == (cofw.flags == 1).sum()
    faces = load("aflw_fixture", "test", 64, root=root, cache_dir=tmp_path)
    assert faces.spec is AFLW19
    side = 1.25 * 200 * aflw.scales  # the crop of a centre/scale annotation
    np.testing.assert_allclose(faces.norms["box"], aflw.box_sizes * 64 / side, rtol=1e-5)
    faces = load_face_fixture("300w", image_size=64, root=root, cache_dir=tmp_path)
    assert faces.spec is FACE68 and faces.valid.all() and not faces.occluded.any()


def test_coco_json_malformed_errors(tmp_path):
    path = tmp_path / "faces.json"
    path.write_text("{ not json")
    with pytest.raises(ValueError, match=r"faces\.json: malformed JSON"):
        read_coco_keypoints(path)
    images = [{"id": 1, "file_name": "a.jpg"}]
    path.write_text(json.dumps({"images": images}))
    with pytest.raises(ValueError, match=r"faces\.json: expected a non-empty list under 'annot"):
        read_coco_keypoints(path)
    annotation = {"image_id": 1, "keypoints": [1, 2, 1, 3, 4], "bbox": [0, 0, 5, 5]}
    path.write_text(json.dumps({"images": images, "annotations": [annotation]}))
    with pytest.raises(ValueError, match=r"annotations\[0\]: 'keypoints' must have a multiple"):
        read_coco_keypoints(path)
    annotation = {"image_id": 2, "keypoints": [1, 2, 1], "bbox": [0, 0, 5, 5]}
    path.write_text(json.dumps({"images": images, "annotations": [annotation]}))
    with pytest.raises(ValueError, match="image_id 2 is not in 'images'"):
        read_coco_keypoints(path)
