"""Properties of the geometry, the metrics and the heatmap coding, checked on random inputs.

Where a property holds exactly in real arithmetic, the inputs are chosen so that it also holds
exactly in floating point (integer coordinates, power-of-two scales), and the test asks for
equality; elsewhere it allows a tolerance stated next to it.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from studylib import metrics
from studylib.data.augment import affine_matrices, transform_points, warp_images
from studylib.data.heatmaps import (
    decode_heatmaps,
    heatmap_to_image,
    image_to_heatmap,
    render_heatmaps,
)
from studylib.data.keypoints import AFLW19, COFW29, FACE68, MPII, flip_joints

SETTINGS = settings(max_examples=40, deadline=None)
SPECS = st.sampled_from([MPII, FACE68, COFW29, AFLW19])


def tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


# ----------------------------------------------------------------------------- flips and warps


@SETTINGS
@given(spec=SPECS, width=st.integers(1, 512), n=st.integers(1, 4), data=st.data())
def test_flipping_keypoints_twice_is_the_identity(spec, width, n, data):
    shape = (n, spec.num_keypoints, 2)
    joints = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-0.5, width - 0.5)))
    once = flip_joints(joints, width, spec)
    np.testing.assert_allclose(flip_joints(once, width, spec), joints, rtol=0, atol=1e-9)
    # Once: x -> width - 1 - x, and every left keypoint takes its right twin's place.
    perm = spec.flip_permutation()
    np.testing.assert_allclose(once[..., perm, 0], width - 1 - joints[..., 0], atol=1e-9)
    np.testing.assert_array_equal(once[..., perm, 1], joints[..., 1])


@SETTINGS
@given(h=st.integers(2, 24), w=st.integers(2, 24), seed=st.integers(0, 2**16))
def test_flipping_an_image_and_its_joints_twice_is_the_identity(h, w, seed):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(2, 3, h, w, generator=generator)
    joints = torch.rand(2, 16, 2, generator=generator) * torch.tensor([w - 1.0, h - 1.0])
    flip = affine_matrices(torch.ones(2), torch.zeros(2), torch.ones(2, dtype=torch.bool), (h, w))
    assert torch.equal(flip @ flip, torch.eye(3).expand(2, 3, 3))
    once = warp_images(images, flip)
    # One flip mirrors the pixels (bilinear sampling exactly at pixel centres: float error only).
    torch.testing.assert_close(once, images.flip(-1), rtol=0, atol=1e-5)
    torch.testing.assert_close(warp_images(once, flip), images, rtol=0, atol=1e-5)
    perm = torch.from_numpy(MPII.flip_permutation())
    twice = transform_points(transform_points(joints, flip)[:, perm], flip)[:, perm]
    torch.testing.assert_close(twice, joints, rtol=0, atol=1e-5)


@SETTINGS
@given(
    scale=st.floats(0.5, 1.5),
    rotation=st.floats(-180, 180),
    flip=st.booleans(),
    size=st.tuples(st.integers(8, 256), st.integers(8, 256)),
    seed=st.integers(0, 2**16),
)
def test_an_affine_warp_and_its_inverse_round_trip_joints(scale, rotation, flip, size, seed):
    h, w = size
    m = affine_matrices(tensor([scale]), tensor([rotation]), torch.tensor([flip]), (h, w))
    generator = torch.Generator().manual_seed(seed)
    joints = torch.rand(1, 16, 2, generator=generator, dtype=torch.float64)
    joints = joints * torch.tensor([w - 1.0, h - 1.0], dtype=torch.float64)
    back = transform_points(transform_points(joints, m), torch.linalg.inv(m))
    torch.testing.assert_close(back, joints, rtol=0, atol=1e-9)
    # The warp turns and scales about the image centre, which stays where it is.
    centre = tensor([[[(w - 1) / 2, (h - 1) / 2]]])
    torch.testing.assert_close(transform_points(centre, m), centre, rtol=0, atol=1e-9)
    # Distances scale by exactly `scale` (rotation and flip keep them).
    moved = transform_points(joints, m)
    torch.testing.assert_close(
        torch.cdist(moved, moved), scale * torch.cdist(joints, joints), rtol=1e-9, atol=1e-9
    )


# ----------------------------------------------------------------------------- metrics


@st.composite
def keypoint_problems(draw, max_coordinate: int = 1000):
    """pred, gt (N, K, 2) with integer coordinates, a visibility mask and (N,) normalisers."""
    n, k = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    coordinates = st.integers(-max_coordinate, max_coordinate).map(float)
    pred = draw(hnp.arrays(np.float64, (n, k, 2), elements=coordinates))
    gt = draw(hnp.arrays(np.float64, (n, k, 2), elements=coordinates))
    visible = draw(hnp.arrays(np.bool_, (n, k)))
    norm = draw(hnp.arrays(np.float64, (n,), elements=st.integers(1, 200).map(float)))
    return pred, gt, visible, norm


def assert_same_pck(a: metrics.PCKResult, b: metrics.PCKResult) -> None:
    np.testing.assert_array_equal(a.per_joint, b.per_joint)
    np.testing.assert_array_equal(a.correct, b.correct)
    assert a.mean == b.mean or (np.isnan(a.mean) and np.isnan(b.mean))


@SETTINGS
@given(
    problem=keypoint_problems(),
    shift=st.tuples(st.integers(-5000, 5000), st.integers(-5000, 5000)),
    threshold=st.floats(0, 2),
)
def test_pckh_and_nme_ignore_a_common_translation(problem, shift, threshold):
    pred, gt, visible, norm = problem
    t = np.array(shift, dtype=np.float64)  # integers: the differences stay exact
    assert_same_pck(
        metrics.pckh(pred + t, gt + t, visible, norm, threshold),
        metrics.pckh(pred, gt, visible, norm, threshold),
    )
    np.testing.assert_array_equal(metrics.nme(pred + t, gt + t, norm), metrics.nme(pred, gt, norm))


@SETTINGS
@given(problem=keypoint_problems(), exponent=st.integers(-6, 6), threshold=st.floats(0, 2))
def test_pckh_ignores_scaling_everything_by_a_power_of_two(problem, exponent, threshold):
    pred, gt, visible, norm = problem
    k = 2.0**exponent  # exact in floating point, so the ratios error / norm are the same bits
    assert_same_pck(
        metrics.pckh(k * pred, k * gt, visible, k * norm, threshold),
        metrics.pckh(pred, gt, visible, norm, threshold),
    )


@SETTINGS
@given(problem=keypoint_problems(), k=st.floats(1e-3, 1e3), use_visible=st.booleans())
def test_nme_is_scale_free_and_linear_in_the_error(problem, k, use_visible):
    pred, gt, visible, norm = problem
    mask = visible if use_visible else None
    base = metrics.nme(pred, gt, norm, mask)
    # pred, gt and the normaliser scaled together: the same NME (up to rounding).
    np.testing.assert_allclose(metrics.nme(k * pred, k * gt, k * norm, mask), base, rtol=1e-12)
    # Only the error scaled by k: NME scales by k.
    scaled = metrics.nme(gt + k * (pred - gt), gt, norm, mask)
    np.testing.assert_allclose(scaled, k * base, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(
    problem=keypoint_problems(max_coordinate=50),
    thresholds=st.tuples(st.floats(0, 3), st.floats(0, 3)).map(sorted),
)
def test_pck_is_monotone_in_the_threshold(problem, thresholds):
    pred, gt, visible, norm = problem
    low, high = (metrics.pck(pred, gt, visible, norm, t) for t in thresholds)
    assert not (low.correct & ~high.correct).any()
    scored = ~np.isnan(low.per_joint)
    np.testing.assert_array_equal(scored, ~np.isnan(high.per_joint))
    assert (low.per_joint[scored] <= high.per_joint[scored]).all()
    assume(visible.any())
    assert low.mean <= high.mean
    # A perfect prediction is correct at every threshold, even 0.
    assert metrics.pck(gt, gt, visible, norm, 0.0).mean == 100.0


# ----------------------------------------------------------------------------- heatmaps


@SETTINGS
@given(size=st.integers(3, 64), sigma=st.floats(0.5, 3.0), seed=st.integers(0, 2**16))
def test_render_then_decode_recovers_integer_points_exactly(size, sigma, seed):
    generator = torch.Generator().manual_seed(seed)
    points = torch.randint(0, size, (2, 5, 2), generator=generator).float()
    maps = render_heatmaps(points, torch.ones(2, 5, dtype=torch.bool), size, sigma)
    for subpixel in (False, True):  # the neighbours of an integer peak are equal: no shift
        decoded, scores = decode_heatmaps(maps, subpixel=subpixel)
        assert torch.equal(decoded, points)
        assert torch.equal(scores, torch.ones(2, 5))


@SETTINGS
@given(
    size=st.integers(3, 64),
    sigma=st.floats(0.5, 3.0),
    unit=hnp.arrays(np.float32, (1, 6, 2), elements=st.floats(0, 1, width=32)),
)
def test_render_then_decode_recovers_real_points_within_a_quarter_pixel(size, sigma, unit):
    """Plain argmax: the nearest pixel, within 0.5. With the quarter shift toward the higher
    neighbour: within 0.25 wherever both neighbours exist, 0.5 on the map's border."""
    points = torch.from_numpy(unit) * (size - 1)
    maps = render_heatmaps(points, torch.ones(1, 6, dtype=torch.bool), size, sigma)
    plain, _ = decode_heatmaps(maps, subpixel=False)
    assert ((plain - points).abs() <= 0.5 + 1e-5).all()
    shifted, _ = decode_heatmaps(maps)
    interior = (plain >= 1) & (plain <= size - 2)
    bound = torch.where(interior, 0.25, 0.5)
    assert ((shifted - points).abs() <= bound + 1e-5).all()
    # In image pixels (stride 4) the same bounds scale by the stride.
    image_points = heatmap_to_image(points, 4)
    back = heatmap_to_image(shifted, 4)
    assert ((back - image_points).abs() <= 4 * bound + 1e-4).all()
    torch.testing.assert_close(image_to_heatmap(image_points, 4), points, rtol=0, atol=1e-5)
