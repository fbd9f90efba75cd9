"""Pasted occluders (studylib.data.occlude): the area they cover, the landmarks they hide,
determinism."""

import numpy as np
import pytest

from studylib.data.occlude import paste_occluders
from studylib.data.synthetic_face import FaceSynthConfig, generate_faces


@pytest.fixture(scope="module")
def faces():
    return generate_faces(
        12, 64, seed=3, config=FaceSynthConfig(occlusion=0.0, self_occlusion=False)
    )


def test_no_area_changes_nothing(faces):
    same = paste_occluders(faces, 0.0)
    np.testing.assert_array_equal(same.images, faces.images)
    np.testing.assert_array_equal(same.occluded, faces.occluded)


@pytest.mark.parametrize("area", [0.1, 0.3])
def test_the_rectangle_covers_the_area_and_hides_what_is_under_it(faces, area):
    pasted = paste_occluders(faces, area, seed=1)
    for i in range(len(faces)):
        changed = (pasted.images[i] != faces.images[i]).any(axis=-1)
        ys, xs = np.nonzero(changed)
        points = faces.joints[i]
        box = np.ptp(points[:, 0]) * np.ptp(points[:, 1])
        rectangle = (np.ptp(xs) + 1) * (np.ptp(ys) + 1)
        assert rectangle == pytest.approx(area * box, rel=0.35)
        inside = (
            (points[:, 0] >= xs.min() - 0.5)
            & (points[:, 0] < xs.max() + 0.5)
            & (points[:, 1] >= ys.min() - 0.5)
            & (points[:, 1] < ys.max() + 0.5)
        )
        np.testing.assert_array_equal(pasted.occluded[i], inside | faces.occluded[i])
    more = paste_occluders(faces, 0.4, seed=1)
    assert more.occluded.mean() > paste_occluders(faces, 0.1, seed=1).occluded.mean()


def test_the_same_seed_pastes_the_same_occluders(faces):
    a, b = paste_occluders(faces, 0.2, seed=5), paste_occluders(faces, 0.2, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, paste_occluders(faces, 0.2, seed=6).images)
    assert a.info["pasted_occluders"] == {"area": 0.2, "seed": 5}


def test_bad_area_is_named(faces):
    with pytest.raises(ValueError, match="area must be a fraction of the face box"):
        paste_occluders(faces, 1.5)
