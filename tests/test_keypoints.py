"""Keypoint specs (studylib.data.keypoints): flip permutations swap left and right names and are
involutions, flipping joints twice is the identity, and the face specs (COFW-29, AFLW-21/19) have
the expected flip pairs and are registered by name."""

import numpy as np

from studylib.data.dataset import SPECS
from studylib.data.keypoints import AFLW19, AFLW21, COFW29, MPII, flip_joints


def test_flip_permutation_is_an_involution_that_swaps_names():
    perm = MPII.flip_permutation()
    assert (perm[perm] == np.arange(16)).all()
    assert MPII.names[perm[MPII.index("l_wrist")]] == "r_wrist"
    assert perm[MPII.index("pelvis")] == MPII.index("pelvis")


def test_flip_twice_is_the_identity():
    joints = np.random.default_rng(0).uniform(0, 63, size=(5, 16, 2))
    assert np.allclose(flip_joints(flip_joints(joints, 64, MPII), 64, MPII), joints)


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
