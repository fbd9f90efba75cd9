"""Synthetic 68-point faces: determinism, the 300-W order, pose, occlusion labels, knob checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studylib.data.keypoints import FACE68
from studylib.data.render import KnobError
from studylib.data.synthetic_face import (
    FACE_TEMPLATE,
    FaceSynthConfig,
    generate_faces,
    render_face,
)
from studylib.metrics import inter_ocular_distance

FRONTAL = FaceSynthConfig(pose_range=0.0, expression=0.0, occlusion=0.0)


def _eye_axis_offset(landmarks: np.ndarray, point: int) -> float:
    """Signed offset of ``point`` from the outer-eye-corner midpoint along the eye axis, in IODs."""
    axis = landmarks[45] - landmarks[36]
    iod = np.linalg.norm(axis)
    return float((landmarks[point] - (landmarks[36] + landmarks[45]) / 2) @ axis / iod**2)


def test_same_arguments_give_bit_identical_sets():
    first = generate_faces(3, 48, seed=11)
    second = generate_faces(3, 48, seed=11)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.joints, second.joints)
    np.testing.assert_array_equal(first.occluded, second.occluded)
    assert first.info == second.info
    other_seed = generate_faces(1, 48, seed=12)
    assert not np.array_equal(other_seed.images[0], first.images[0])


def test_image_i_does_not_depend_on_num_images():
    small = generate_faces(2, 48, seed=3)
    large = generate_faces(4, 48, seed=3)
    np.testing.assert_array_equal(small.images, large.images[:2])
    np.testing.assert_array_equal(small.joints, large.joints[:2])
    np.testing.assert_array_equal(small.occluded, large.occluded[:2])
    np.testing.assert_array_equal(small.norms["box"], large.norms["box"][:2])


def test_shapes_dtypes_norms_and_info():
    faces = generate_faces(3, 40, seed=0)
    assert faces.images.shape == (3, 40, 40, 3) and faces.images.dtype == np.uint8
    assert faces.joints.shape == (3, 68, 2) and faces.joints.dtype == np.float32
    assert faces.valid.dtype == bool and faces.occluded.dtype == bool
    assert faces.valid.shape == faces.occluded.shape == (3, 68)
    assert faces.spec is FACE68
    assert set(faces.norms) == {"interocular", "box"}
    for norm in faces.norms.values():
        assert norm.shape == (3,) and norm.dtype == np.float32 and np.all(norm > 0)
    np.testing.assert_allclose(
        faces.norms["interocular"], inter_ocular_distance(faces.joints), rtol=1e-6
    )
    extent = faces.joints.max(axis=1) - faces.joints.min(axis=1)
    np.testing.assert_allclose(faces.norms["box"], np.sqrt(extent[:, 0] * extent[:, 1]), rtol=1e-5)
    # The face fills about 0.5-0.7 of the image, as in a 300-W crop.
    assert np.all(faces.norms["box"] > 0.35 * 40) and np.all(faces.norms["box"] < 0.8 * 40)
    inside = np.all((faces.joints >= -0.5) & (faces.joints <= 39.5), axis=-1)
    np.testing.assert_array_equal(faces.valid, inside)
    assert faces.info["name"] == "synthetic-face"
    assert faces.info["config"] == FaceSynthConfig().as_dict()
    assert (faces.info["image_size"], faces.info["seed"], faces.info["num_images"]) == (40, 0, 3)
    json.dumps(faces.info)


def test_frontal_faces_follow_the_300w_order():
    faces = generate_faces(6, 64, seed=5, config=FRONTAL)
    for joints in faces.joints.astype(np.float64):
        x, y = joints[:, 0], joints[:, 1]
        assert np.argmax(y) == 8, "the chin (8) is the lowest point of an upright face"
        assert np.all(x[:8] < x[8]) and np.all(x[9:17] > x[8]), "jaw 0-7 left, 9-16 right"
        assert np.all(np.diff(y[:9]) > 0) and np.all(np.diff(y[8:17]) < 0), "jaw wraps the chin"
        assert x[36] < x[39] < x[42] < x[45], "image-left eye is 36-41, outer corners 36 and 45"
        assert x[17] < x[21] < x[22] < x[26], "brows run left to right"
        assert y[17:22].max() < y[36:42].min() and y[22:27].max() < y[42:48].min(), "brows above"
        assert np.all(np.diff(y[27:31]) > 0), "nose bridge runs down from 27 to the tip 30"
        assert y[33] < y[51] < y[62] < y[57], "mouth below the nose, upper lip above lower"
        assert x[48] < x[51] < x[54] and x[60] < x[64], "mouth corners 48 (left) and 54 (right)"
        assert y[37] < y[41] and y[44] < y[46], "upper lids above lower lids"


def test_frontal_face_is_mirror_symmetric_without_identity_variation():
    config = FaceSynthConfig(pose_range=0.0, expression=0.0, identity=0.0, occlusion=0.0)
    joints = render_face(96, seed=1, index=0, config=config).landmarks
    mirrored = joints[FACE68.flip_permutation()]
    centre = (joints[36, 0] + joints[45, 0]) / 2
    np.testing.assert_allclose(mirrored[:, 0], 2 * centre - joints[:, 0], atol=1e-6)
    np.testing.assert_allclose(mirrored[:, 1], joints[:, 1], atol=1e-6)


def test_yaw_turns_the_nose_tip_towards_the_turned_side():
    turned_config = FaceSynthConfig(pose_range=1.0, occlusion=0.0)
    checked = 0
    for index in range(12):
        turned = render_face(48, seed=2, index=index, config=turned_config)
        frontal = render_face(48, seed=2, index=index, config=FRONTAL)
        yaw = turned.pose[0]
        assert frontal.pose == (0.0, 0.0, 0.0)
        if abs(yaw) < 15:
            continue
        checked += 1
        shift = _eye_axis_offset(turned.landmarks, 30) - _eye_axis_offset(frontal.landmarks, 30)
        assert np.sign(shift) == np.sign(yaw), f"yaw {yaw:.0f} moved the nose tip by {shift:.3f}"
        assert abs(shift) > 0.05
    assert checked >= 4


def test_yaw_hides_the_far_side_of_the_jaw():
    config = FaceSynthConfig(pose_range=1.0, occlusion=0.0)
    checked = 0
    for index in range(16):
        face = render_face(48, seed=4, index=index, config=config)
        if abs(face.pose[0]) < 35:
            continue
        checked += 1
        hidden_jaw = np.flatnonzero(face.self_occluded[:17])
        assert hidden_jaw.size > 0
        far_side = np.arange(9, 17) if face.pose[0] > 0 else np.arange(0, 8)
        assert set(hidden_jaw) <= set(far_side)
    assert checked >= 2


def test_no_occluders_means_no_occluded_landmarks():
    no_occluders = FaceSynthConfig(occlusion=0.0, self_occlusion=False, pose_range=1.0)
    assert not generate_faces(8, 48, seed=7, config=no_occluders).occluded.any()
    assert not generate_faces(4, 48, seed=7, config=FRONTAL).occluded.any()


def test_occlusion_knob_keeps_the_same_faces():
    light = render_face(48, seed=9, index=1, config=FaceSynthConfig(occlusion=0.0))
    heavy = render_face(48, seed=9, index=1, config=FaceSynthConfig(occlusion=4.0))
    np.testing.assert_array_equal(light.landmarks, heavy.landmarks)
    np.testing.assert_array_equal(light.self_occluded, heavy.self_occluded)


def test_heavy_occlusion_covers_landmarks_and_changes_their_pixels():
    config = FaceSynthConfig(occlusion=4.0, occluder_size=0.7, blur=0.0, self_occlusion=False)
    size = 64
    occluded_fraction = []
    for index in range(6):
        face = render_face(size, seed=13, index=index, config=config, keep_clean=True)
        occluded_fraction.append(face.occluded_by_occluder.mean())
        difference = np.abs(face.image.astype(int) - face.clean_image.astype(int)).sum(axis=-1)
        # Outside the occluders the image is the occluder-free render, pixel for pixel.
        assert np.all(difference[face.occluder_mask == 0] == 0)
        pixels = np.clip(np.round(face.landmarks).astype(int), 0, size - 1)
        at_landmarks = difference[pixels[:, 1], pixels[:, 0]]
        covered = face.occluded_by_occluder
        if covered.any():
            assert np.mean(at_landmarks[covered] > 0) > 0.8
            assert np.all(face.occluder_mask[pixels[covered, 1], pixels[covered, 0]] > 0)
    assert np.mean(occluded_fraction) > 0.3


def test_each_occluder_kind_can_be_chosen_alone():
    for kind in ("hand", "bar", "patch"):
        config = FaceSynthConfig(occlusion=3.0, occluder_kinds=(kind,), self_occlusion=False)
        assert generate_faces(4, 40, seed=21, config=config).occluded.any(), kind


def test_template_is_the_300w_layout_at_unit_inter_ocular_distance():
    assert FACE_TEMPLATE.shape == (68, 3)
    assert np.linalg.norm(FACE_TEMPLATE[45, :2] - FACE_TEMPLATE[36, :2]) == pytest.approx(1.0)
    assert FACE_TEMPLATE[30, 2] == FACE_TEMPLATE[:, 2].max(), "the nose tip sticks out most"
    with pytest.raises(ValueError):
        FACE_TEMPLATE[0, 0] = 1.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("occlusion", -0.1),
        ("occlusion", 5.0),
        ("occluder_size", 0.0),
        ("pose_range", 1.5),
        ("expression", -1.0),
        ("identity", 3.0),
        ("clutter", 2.0),
        ("lighting", -0.5),
        ("blur", 4.0),
        ("noise", 0.9),
        ("noise", "a lot"),
        ("occluder_kinds", ("hand", "laser")),
        ("occluder_kinds", ()),
        ("occluder_kinds", "hand"),
        ("occluder_kinds", ("bar", "bar")),
        ("self_occlusion", 1),
    ],
)
def test_invalid_knobs_are_rejected_by_name(name, value):
    with pytest.raises(KnobError, match=rf"^FaceSynthConfig\.{name} must be .*, got "):
        FaceSynthConfig(**{name: value})


def test_knob_error_states_the_allowed_range():
    with pytest.raises(
        KnobError, match=r"^FaceSynthConfig\.clutter must be in \[0, 1\], got 1\.5$"
    ):
        FaceSynthConfig(clutter=1.5)


@pytest.mark.parametrize(
    ("num_images", "image_size", "seed", "name"),
    [
        (0, 64, 0, "num_images"),
        (2, 31, 0, "image_size"),
        (2, 32.0, 0, "image_size"),
        (1, 32, -1, "seed"),
    ],
)
def test_invalid_sizes_are_rejected(num_images, image_size, seed, name):
    with pytest.raises(KnobError, match=rf"^{name} must be an integer >= "):
        generate_faces(num_images, image_size, seed=seed)


def test_a_config_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="config must be a FaceSynthConfig, got dict"):
        generate_faces(1, 32, 0, {"occlusion": 0.0})
