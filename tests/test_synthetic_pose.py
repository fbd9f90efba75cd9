"""Tests of the synthetic pose generator (studylib.data.synthetic_pose)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
import pytest

from studylib.data import synthetic_pose
from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII
from studylib.data.render import KnobError
from studylib.data.synthetic_pose import (
    JOINT_LIMITS,
    LENGTH_VARIATION,
    SEGMENT_LENGTHS,
    PoseSynthConfig,
    generate_pose,
)

SIZE = 64
J = {name: index for index, name in enumerate(MPII.names)}
#: No background clutter, no other people, no occluders, no noise: only the main person.
CLEAN = PoseSynthConfig(
    clutter=0.0, distractors=0.0, partial_bodies=0.0, occlusion=0.0, noise=0.0, blur=0.0
)
#: CLEAN with every limb drawn at its full length, so image lengths are true lengths.
PLANAR = replace(CLEAN, foreshortening=0.0)


@pytest.fixture(scope="module")
def default_set() -> KeypointSet:
    return generate_pose(40, SIZE, seed=7)


@pytest.fixture(scope="module")
def planar_set() -> KeypointSet:
    return generate_pose(60, SIZE, seed=3, config=PLANAR)


def segment_lengths(joints: np.ndarray, parent: str, child: str) -> np.ndarray:
    return np.linalg.norm(joints[:, J[child]] - joints[:, J[parent]], axis=-1)


def bend_angles(joints: np.ndarray, root: str, middle: str, end: str) -> np.ndarray:
    """Unsigned angle (degrees) between the two segments of a limb; 0 = straight."""
    first = (joints[:, J[middle]] - joints[:, J[root]]).astype(np.float64)
    second = (joints[:, J[end]] - joints[:, J[middle]]).astype(np.float64)
    cross = first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0]
    return np.degrees(np.abs(np.arctan2(cross, (first * second).sum(axis=-1))))


def border_std(images: np.ndarray, width: int = SIZE // 8) -> float:
    """Mean per-image standard deviation of the pixels in a border strip (mostly background)."""
    mask = np.ones(images.shape[1:3], dtype=bool)
    mask[width:-width, width:-width] = False
    return float(np.mean([image[mask].astype(np.float64).std(axis=0).mean() for image in images]))


def test_returns_a_keypoint_set_with_mpii_shapes_and_types(default_set):
    n, k = 40, MPII.num_keypoints
    assert isinstance(default_set, KeypointSet)
    assert default_set.spec is MPII
    assert default_set.images.shape == (n, SIZE, SIZE, 3) and default_set.images.dtype == np.uint8
    assert default_set.joints.shape == (n, k, 2) and default_set.joints.dtype == np.float32
    assert default_set.valid.shape == default_set.occluded.shape == (n, k)
    assert default_set.valid.dtype == default_set.occluded.dtype == np.bool_
    assert set(default_set.norms) == {"head", "torso"}
    for norm in default_set.norms.values():
        assert norm.shape == (n,) and norm.dtype == np.float32
    info = default_set.info
    assert info["name"] == "synthetic-pose"
    assert (info["image_size"], info["seed"], info["num_images"]) == (SIZE, 7, n)
    assert info["config"] == asdict(PoseSynthConfig())
    json.dumps(info)


def test_same_arguments_give_identical_arrays():
    first, second = generate_pose(4, SIZE, 11), generate_pose(4, SIZE, 11)
    for name in ("images", "joints", "valid", "occluded"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    for key in first.norms:
        np.testing.assert_array_equal(first.norms[key], second.norms[key])


def test_different_seeds_give_different_images():
    first, second = generate_pose(3, SIZE, 11), generate_pose(3, SIZE, 12)
    assert not np.array_equal(first.images, second.images)
    assert not np.allclose(first.joints, second.joints)


def test_image_i_does_not_depend_on_num_images():
    short, long = generate_pose(2, SIZE, 5), generate_pose(5, SIZE, 5)
    np.testing.assert_array_equal(short.images, long.images[:2])
    np.testing.assert_array_equal(short.joints, long.joints[:2])
    assert not np.array_equal(long.images[2], long.images[0])


def test_main_person_is_centred_and_mostly_inside(default_set):
    assert default_set.valid.mean() > 0.9
    joints = default_set.joints
    inside = np.all((joints >= 0) & (joints <= SIZE - 1), axis=-1)
    np.testing.assert_array_equal(default_set.valid, inside)
    box_centres = 0.5 * (joints.min(axis=1) + joints.max(axis=1))
    assert np.all(np.abs(box_centres - (SIZE - 1) / 2) < 0.15 * SIZE)
    heights = joints[..., 1].max(axis=1) - joints[..., 1].min(axis=1)
    assert 0.3 * SIZE < np.median(heights) < SIZE


def test_limb_length_ratios_stay_within_the_stated_variation(planar_set):
    joints = planar_set.joints
    spread = (1 - LENGTH_VARIATION) / (1 + LENGTH_VARIATION)
    for side in ("r", "l"):
        for (a, b, c), (upper, lower) in (
            (("hip", "knee", "ankle"), ("thigh", "shin")),
            (("shoulder", "elbow", "wrist"), ("upper_arm", "forearm")),
        ):
            first = segment_lengths(joints, f"{side}_{a}", f"{side}_{b}")
            second = segment_lengths(joints, f"{side}_{b}", f"{side}_{c}")
            ratio = first / second
            nominal = SEGMENT_LENGTHS[upper] / SEGMENT_LENGTHS[lower]
            assert np.all(ratio >= nominal * spread - 1e-3), (side, upper, ratio.min())
            assert np.all(ratio <= nominal / spread + 1e-3), (side, upper, ratio.max())
            assert ratio.std() > 0.02  # the proportions do vary between figures
    left = segment_lengths(joints, "l_hip", "l_knee")
    right = segment_lengths(joints, "r_hip", "r_knee")
    np.testing.assert_allclose(left, right, rtol=1e-4)  # a figure is symmetric


def test_elbow_and_knee_angles_stay_within_their_limits(default_set, planar_set):
    for dataset in (default_set, planar_set):
        for side in ("r", "l"):
            joints = dataset.joints
            elbows = bend_angles(joints, f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")
            knees = bend_angles(joints, f"{side}_hip", f"{side}_knee", f"{side}_ankle")
            assert elbows.max() <= JOINT_LIMITS["elbow"][1] + 1e-2
            assert knees.max() <= JOINT_LIMITS["knee"][1] + 1e-2
    knees = bend_angles(default_set.joints, "r_hip", "r_knee", "r_ankle")
    assert (knees > 45).any()  # poses are not all straight-legged


def test_pose_range_zero_gives_the_neutral_standing_pose():
    joints = generate_pose(10, SIZE, 2, replace(CLEAN, pose_range=0.0)).joints
    for side in ("r", "l"):
        assert bend_angles(joints, f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist").max() < 12
        assert bend_angles(joints, f"{side}_hip", f"{side}_knee", f"{side}_ankle").max() < 5
        # standing upright: ankles below knees below hips, wrists below shoulders
        assert np.all(joints[:, J[f"{side}_ankle"], 1] > joints[:, J[f"{side}_knee"], 1])
        assert np.all(joints[:, J[f"{side}_knee"], 1] > joints[:, J[f"{side}_hip"], 1])
        assert np.all(joints[:, J[f"{side}_wrist"], 1] > joints[:, J[f"{side}_shoulder"], 1])


def test_knees_bend_backward_and_elbows_forward_in_profile():
    # Uses the internal kinematics: the public API does not fix the yaw.
    rng = np.random.default_rng(0)
    body = synthetic_pose._sample_body(rng, 100.0)
    pose = synthetic_pose._sample_pose(rng, pose_range=0.0)
    pose.update(
        arm_elevation=np.zeros(2),
        elbow=np.full(2, 90.0),
        leg_elevation=np.zeros(2),
        knee=np.full(2, 90.0),
    )
    for yaw, facing in ((90.0, 1.0), (-90.0, -1.0)):  # facing +x, then -x
        joints = synthetic_pose._pose_skeleton(body, pose, yaw, foreshortening=1.0).joints
        for side in ("r", "l"):
            knee, ankle = joints[J[f"{side}_knee"]], joints[J[f"{side}_ankle"]]
            elbow, wrist = joints[J[f"{side}_elbow"]], joints[J[f"{side}_wrist"]]
            assert facing * (ankle[0] - knee[0]) < -0.1  # the foot goes behind
            assert facing * (wrist[0] - elbow[0]) > 0.1  # the hand goes forward


def test_body_yaw_narrows_the_shoulders():
    def shoulder_over_thigh(config: PoseSynthConfig) -> float:
        joints = generate_pose(30, SIZE, 9, config).joints
        shoulders = segment_lengths(joints, "r_shoulder", "l_shoulder")
        return float(np.median(shoulders / segment_lengths(joints, "r_hip", "r_knee")))

    frontal = shoulder_over_thigh(replace(PLANAR, yaw_range=0.0, pose_range=0.0))
    turned = shoulder_over_thigh(replace(PLANAR, yaw_range=180.0, pose_range=0.0))
    assert frontal == pytest.approx(0.21 / 0.245, rel=0.15)
    assert turned < 0.8 * frontal


def test_no_occluders_means_no_occluded_joints_and_many_occluders_hide_some():
    clean = generate_pose(20, SIZE, 4, CLEAN)
    assert not clean.occluded.any()
    heavy = generate_pose(20, SIZE, 4, replace(CLEAN, occlusion=6.0, occluder_size=0.4))
    assert heavy.occluded.mean() > 0.2
    assert not (heavy.occluded & ~heavy.valid).any()
    # same seed, same main person: occluded joints keep their coordinates
    np.testing.assert_array_equal(heavy.joints, clean.joints)


def test_default_difficulty_occludes_some_joints(default_set):
    assert 0.0 < default_set.occluded.mean() < 0.5
    assert not (default_set.occluded & ~default_set.valid).any()


def test_head_size_is_positive_and_proportional_to_the_figure(planar_set):
    head = planar_set.norms["head"]
    thigh = segment_lengths(planar_set.joints, "r_hip", "r_knee")
    assert np.all(head > 0)
    ratio = head / thigh
    assert np.all((ratio > 0.25) & (ratio < 0.6)), (ratio.min(), ratio.max())
    assert np.corrcoef(head, thigh)[0, 1] > 0.7


def test_torso_norm_is_right_shoulder_to_left_hip(default_set):
    expected = segment_lengths(default_set.joints, "r_shoulder", "l_hip")
    np.testing.assert_allclose(default_set.norms["torso"], expected, rtol=1e-4)
    assert np.all(default_set.norms["torso"] > 0)


@pytest.mark.parametrize("knob", [{"clutter": 1.0}, {"distractors": 4.0}, {"partial_bodies": 4.0}])
def test_clutter_and_other_people_make_the_background_busier(knob):
    plain = generate_pose(12, SIZE, 21, CLEAN).images
    busy = generate_pose(12, SIZE, 21, replace(CLEAN, **knob)).images
    assert border_std(busy) > 2.0 * border_std(plain)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clutter", -0.1),
        ("clutter", 1.5),
        ("distractors", -1.0),
        ("partial_bodies", 11.0),
        ("occlusion", float("nan")),
        ("occluder_size", 0.0),
        ("pose_range", 2.0),
        ("rotation", 200.0),
        ("yaw_range", -5.0),
        ("foreshortening", 1.1),
        ("noise", "high"),
        ("blur", True),
    ],
)
def test_config_rejects_out_of_range_knobs(field, value):
    with pytest.raises(KnobError, match=rf"^PoseSynthConfig\.{field} must be in \[.*\], got "):
        PoseSynthConfig(**{field: value})


@pytest.mark.parametrize("scale_range", [(0.9, 0.6), (0.1, 0.5), (0.5, 2.0), (0.5,)])
def test_config_rejects_bad_scale_ranges(scale_range):
    with pytest.raises(KnobError, match=r"^PoseSynthConfig\.scale_range must be "):
        PoseSynthConfig(scale_range=scale_range)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_images": 0}, "num_images"),
        ({"image_size": 31}, "image_size"),
        ({"image_size": 64.0}, "image_size"),
        ({"seed": -1}, "seed"),
    ],
)
def test_generate_pose_rejects_bad_arguments(kwargs, name):
    arguments = {"num_images": 1, "image_size": 32, "seed": 0, **kwargs}
    with pytest.raises(KnobError, match=rf"^{name} must be an integer >= "):
        generate_pose(**arguments)


def test_generate_pose_rejects_a_config_of_another_type():
    with pytest.raises(TypeError, match="config must be a PoseSynthConfig, got dict"):
        generate_pose(1, 32, 0, {"clutter": 0.5})
