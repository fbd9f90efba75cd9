"""Real-format loaders: readers, flag conventions, joint mapping, cropping, the MPII check.

Real data is found through ``STUDYLIB_DATA``; when it is unset these tests look for the
development machines' ``../shared/data`` next to the repository. Tests that need a real source
skip (with a message saying how to point at it) when it is absent; the format tests build their
own small files in a temporary folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from studylib import metrics
from studylib.data.cache import cache_dir
from studylib.data.dataset import SPECS, KeypointSet
from studylib.data.keypoints import FACE68, MPII
from studylib.data.real import (
    AFLW19,
    AFLW21,
    COFW29,
    LSP_JOINTS,
    CropBox,
    DataNotFoundError,
    available,
    box_from_points,
    check_table,
    coco_visibility,
    crop_image,
    data_root,
    evaluation_check,
    load,
    load_300w,
    load_cofw,
    load_face_fixture,
    load_lsp,
    load_mpii_fixture,
    lsp_norms,
    lsp_to_mpii,
    mpii_prediction_pckh,
    mpii_reference_pckh,
    read_coco_keypoints,
    read_cofw_mat,
    read_crop,
    read_lsp_joints,
    read_lspet_joints,
    read_mpii_gt,
    read_mpii_json,
    read_pts,
    standard_mpii_evaluation,
)

DATA_ROOT = Path(
    os.environ.get("STUDYLIB_DATA") or Path(__file__).parents[1].parent / "shared" / "data"
)


def require(name: str) -> Path:
    """The data root, or skip the test when the real source ``name`` is not there."""
    if not available(name, DATA_ROOT):
        pytest.skip(
            f"real data {name!r} not found under {DATA_ROOT}: set STUDYLIB_DATA to the folder "
            "holding lsp/, lspet/, 300w/, mpii/ and fixtures/"
        )
    return DATA_ROOT


# --------------------------------------------------------------------------- the data root


def test_missing_root_names_the_setting_and_layout(monkeypatch):
    monkeypatch.delenv("STUDYLIB_DATA", raising=False)
    with pytest.raises(DataNotFoundError) as caught:
        data_root()
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert "STUDYLIB_DATA" in message and "root" in message
    assert "lsp/joints.mat" in message and "mpii/valid_gt.mat" in message
    with pytest.raises(DataNotFoundError, match="STUDYLIB_DATA"):
        load_lsp("test", 32)


def test_nonexistent_root_is_an_error_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYLIB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="STUDYLIB_DATA=.*nowhere"):
        data_root()
    assert data_root(tmp_path) == tmp_path  # the root parameter wins over the variable
    with pytest.raises(DataNotFoundError, match="root parameter"):
        data_root(tmp_path / "missing")


def test_available_checks_the_files_of_a_source(tmp_path):
    assert not available("mpii", tmp_path)
    (tmp_path / "mpii").mkdir()
    (tmp_path / "mpii" / "valid_gt.mat").write_bytes(b"")
    assert available("mpii", tmp_path)
    assert not available("lsp", tmp_path)
    with pytest.raises(DataNotFoundError, match="lsp/joints.mat"):
        load_lsp("test", 32, root=tmp_path, cache_dir=tmp_path / "cache")


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("STUDYLIB_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "studylib"


# --------------------------------------------------------------------------- LSP / LSPET


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
    root = require("lsp")
    require("lspet")
    lsp = read_lsp_joints(root / "lsp" / "joints.mat")
    lspet = read_lspet_joints(root / "lspet" / "joints.mat")
    assert len(lsp) == 2000 and len(lspet) == 10000
    assert lsp.labelled.all()
    assert 0.02 < lsp.occluded.mean() < 0.2  # a minority of LSP joints is occluded (flag 1)
    assert (~lspet.labelled).any() and (lspet.xy[~lspet.labelled] == 0).all()
    assert lspet.labelled.sum(axis=1).min() >= 1


def test_load_lsp_small_subsets(tmp_path):
    root = require("lsp")
    require("lspet")
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
    root = require("300w")
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
    root = require("fixtures")
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


def test_face_specs_flip_pairs_and_registration():
    assert COFW29.num_keypoints == 29 and AFLW21.num_keypoints == 21 and AFLW19.num_keypoints == 19
    assert set(COFW29.flip_pairs) == {
        (0, 1),
        (2, 3),
        (4, 6),
        (5, 7),
        (8, 9),
        (10, 11),
        (12, 14),
        (13, 15),
        (16, 17),
        (18, 19),
        (22, 23),
    }
    assert set(AFLW19.flip_pairs) == {
        (0, 5),
        (1, 4),
        (2, 3),
        (6, 11),
        (7, 10),
        (8, 9),
        (12, 14),
        (15, 17),
    }
    assert (AFLW21.index("r_ear"), AFLW21.index("l_ear")) in AFLW21.flip_pairs
    for spec in (COFW29, AFLW19, AFLW21):
        assert SPECS[spec.name] is spec
        perm = spec.flip_permutation()
        np.testing.assert_array_equal(perm[perm], np.arange(spec.num_keypoints))


# --------------------------------------------------------------------------- cropping


def _blob_image(width: int, height: int, center: tuple[float, float], sigma: float) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    blob = np.exp(-((x - center[0]) ** 2 + (y - center[1]) ** 2) / (2 * sigma**2))
    return np.repeat(np.round(255 * blob).astype(np.uint8)[..., None], 3, axis=-1)


def _centroid(image: np.ndarray) -> np.ndarray:
    weight = image[..., 0].astype(np.float64)
    y, x = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return np.array([(weight * x).sum(), (weight * y).sum()]) / weight.sum()


@pytest.mark.parametrize(
    ("box", "out_size"),
    [
        (CropBox(40.0, 25.0, 80.0), 32),  # shrink 2.5x, box reaches outside the image
        (CropBox(31.0, 22.0, 20.0), 48),  # enlarge 2.4x, inside the image
        (CropBox(10.0, 10.0, 60.0), 40),  # mostly padding
        (CropBox(29.6, 21.9, 37.3), 37),  # fractional box
    ],
)
def test_crop_puts_a_dot_at_the_transformed_joint(box, out_size):
    joint = (30.3, 20.7)
    image = _blob_image(97, 61, joint, sigma=2.5)
    crop = crop_image(image, box, out_size)
    assert crop.shape == (out_size, out_size, 3) and crop.dtype == np.uint8
    expected = box.to_crop(joint, out_size)
    np.testing.assert_allclose(_centroid(crop), expected, atol=0.08)
    np.testing.assert_allclose(box.to_source(expected, out_size), joint)


def test_crop_pads_with_the_fill_value():
    image = np.full((20, 30, 3), 200, dtype=np.uint8)
    crop = crop_image(image, CropBox(5.0, 5.0, 20.0), 20, fill=77)  # source -5..15
    assert (crop[:4, :] == 77).all() and (crop[:, :4] == 77).all()
    assert (crop[6:, 6:] == 200).all()


def test_jpeg_draft_decoding_keeps_the_geometry(tmp_path):
    joint = (412.6, 287.3)
    path = tmp_path / "big.jpg"
    Image.fromarray(_blob_image(800, 600, joint, sigma=14.0)).save(path, quality=95)
    box = CropBox(400.0, 300.0, 640.0)  # 10x smaller: decoded at 1/8 scale
    fast = read_crop(path, box, 64)
    with Image.open(path) as full:
        slow = crop_image(full.convert("RGB"), box, 64)
    np.testing.assert_allclose(_centroid(fast), box.to_crop(joint, 64), atol=0.1)
    assert np.abs(fast.astype(int) - slow.astype(int)).mean() < 2.0


def test_unreadable_image_is_an_error_naming_it(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"no image here")
    with pytest.raises(ValueError, match=r"broken\.jpg"):
        read_crop(path, CropBox(5.0, 5.0, 10.0), 8)


# --------------------------------------------------------------------------- MPII


def test_mpii_json_reader_and_errors(tmp_path):
    root = require("mpii_fixture")
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
    root = require("mpii")
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
    root = require("mpii_fixture")
    require("mpii")
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


def test_load_dispatch_rejects_unknown_names(tmp_path):
    with pytest.raises(KeyError, match="unknown real dataset"):
        load("imagenet", "train", 64, root=tmp_path, cache_dir=tmp_path)
