"""Augmentation geometry (studylib.data.augment): keypoints follow the pixels, flips swap left
and right (on MPII and on faces, keeping the landmarks' meaning), joints pushed out of the image
become invalid.
"""

import numpy as np
import pytest
import torch

from studylib import face
from studylib.config import FaceConfig
from studylib.data.augment import (
    NO_AUGMENT,
    AugmentConfig,
    affine_matrices,
    augment,
    transform_points,
    warp_images,
)
from studylib.data.keypoints import FACE68, MPII, flip_joints

PERM = torch.from_numpy(MPII.flip_permutation())


@pytest.fixture(scope="module")
def faces():
    """(train, test) synthetic faces of the smoke profile (cached for the session)."""
    return face.load_face_data(FaceConfig.from_profile("smoke"))


def dot_image(size, points):
    image = torch.zeros(1, 1, size, size)
    for x, y in points:
        image[0, 0, y, x] = 1.0
    return image


def test_flip_matrix_maps_x_to_width_minus_one_minus_x():
    m = affine_matrices(torch.ones(1), torch.zeros(1), torch.ones(1, dtype=torch.bool), (32, 64))
    out = transform_points(torch.tensor([[[0.0, 3.0], [10.0, 7.0]]]), m)
    assert torch.allclose(out, torch.tensor([[[63.0, 3.0], [53.0, 7.0]]]))


def test_warped_pixels_land_where_the_joints_go():
    points = [(20, 12), (40, 44)]
    image = dot_image(64, points)
    m = affine_matrices(
        torch.tensor([1.2]), torch.tensor([90.0]), torch.zeros(1, dtype=torch.bool), (64, 64)
    )
    warped = warp_images(image, m)
    moved = transform_points(torch.tensor([points], dtype=torch.float32), m)[0]
    for x, y in moved.round().long().tolist():
        window = warped[0, 0, y - 1 : y + 2, x - 1 : x + 2]
        assert window.sum() > 0.5, (x, y)


def test_affine_and_its_inverse_round_trip_points():
    m = affine_matrices(
        torch.tensor([0.8, 1.25]),
        torch.tensor([-30.0, 17.0]),
        torch.tensor([True, False]),
        (64, 64),
    )
    points = torch.rand(2, 16, 2) * 63
    back = transform_points(transform_points(points, m), torch.linalg.inv(m))
    assert torch.allclose(back, points, atol=1e-4)


def test_no_augment_is_the_identity():
    images = torch.rand(3, 3, 64, 64)
    joints = torch.rand(3, 16, 2) * 63
    valid = torch.ones(3, 16, dtype=torch.bool)
    out_images, out_joints, out_valid = augment(
        images, joints, valid, NO_AUGMENT, PERM, torch.Generator()
    )
    assert torch.allclose(out_images, images, atol=1e-5)
    assert torch.allclose(out_joints, joints, atol=1e-5)
    assert out_valid.all()


def test_flipped_samples_swap_joint_names_and_mirror_pixels():
    config = AugmentConfig(scale=0.0, rotation=0.0, flip=True, color=0.0)
    images = torch.rand(64, 3, 32, 32)
    joints = torch.rand(64, 16, 2) * 31
    valid = torch.rand(64, 16) > 0.3
    out_images, out_joints, out_valid = augment(
        images, joints, valid, config, PERM, torch.Generator().manual_seed(1)
    )
    flipped = (out_images - images.flip(-1)).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert 10 < flipped.sum() < 54  # about half are flipped
    expected = torch.from_numpy(flip_joints(joints[flipped].numpy(), 32, MPII)).float()
    assert torch.allclose(out_joints[flipped], expected, atol=1e-4)
    assert torch.equal(out_valid[flipped], valid[flipped][:, PERM])


def test_joints_pushed_outside_become_invalid():
    config = AugmentConfig(scale=0.0, rotation=90.0, rotation_prob=1.0, flip=False, color=0.0)
    joints = torch.tensor([[[7.5, 0.0]]]).expand(32, 1, 2).clone()  # top centre of a 16 x 64 image
    _, out, valid = augment(
        torch.rand(32, 3, 64, 16),
        joints,
        torch.ones(32, 1, dtype=torch.bool),
        config,
        torch.zeros(1, dtype=torch.long),
        torch.Generator().manual_seed(0),
    )
    inside = (
        (out[..., 0] >= -0.5)
        & (out[..., 0] <= 15.5)
        & (out[..., 1] >= -0.5)
        & (out[..., 1] <= 63.5)
    )
    assert torch.equal(valid, inside)
    assert not valid.all()


def test_flip_keeps_landmark_semantics(faces):
    train, _ = faces
    joints = train.joints[:16]
    permutation = FACE68.flip_permutation()
    twice = flip_joints(flip_joints(joints, 64, FACE68), 64, FACE68)
    np.testing.assert_allclose(twice, joints, atol=1e-5)
    assert (permutation[permutation] == np.arange(68)).all()

    images = torch.from_numpy(train.images[:16]).permute(0, 3, 1, 2).float() / 255
    flip_only = AugmentConfig(scale=0.0, rotation=0.0, rotation_prob=0.0, flip=True, color=0.0)
    out_images, out_joints, _ = augment(
        images,
        torch.from_numpy(joints),
        torch.ones(16, 68, dtype=torch.bool),
        flip_only,
        torch.from_numpy(permutation),
        torch.Generator().manual_seed(1),
    )
    flipped = torch.isclose(out_images, images.flip(-1), atol=1e-5).flatten(1).all(dim=1).numpy()
    assert 0 < flipped.sum() < 16  # some of each
    expected = np.where(flipped[:, None, None], flip_joints(joints, 64, FACE68), joints)
    np.testing.assert_allclose(out_joints.numpy(), expected, atol=1e-4)
    # Semantics: the landmark named as the subject's right outer eye corner (36) stays on the image
    # left of 45 in every face, flipped or not (without the permutation, flipped faces would
    # swap them).
    outer = face.FACE68_PARTS["eyes"][0]
    assert (out_joints[:, outer, 0] < out_joints[:, outer + 9, 0]).all()
