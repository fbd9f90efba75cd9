"""Tests of the synthetic generators' shared rendering core (studylib.data.render)."""

from __future__ import annotations

import numpy as np
import pytest

from studylib.data import render, synthetic_face, synthetic_pose
from studylib.data.render import (
    Canvas,
    KnobError,
    Texture,
    check_choices,
    check_count,
    check_flag,
    check_interval,
    check_knobs,
    check_range,
    covered,
    inside_image,
    pick,
    quantize,
)
from studylib.data.synthetic_face import FaceSynthConfig
from studylib.data.synthetic_pose import PoseSynthConfig

# ------------------------------------------------------------------------------ inside the image


def test_inside_image_includes_the_edges_of_the_pixel_centre_extent():
    size = 8
    points = np.array([[-0.5, -0.5], [7.5, 7.5], [-0.5, 7.5], [3.0, 4.0], [0.0, 7.0]])
    assert inside_image(points, size).all()


@pytest.mark.parametrize("point", [(-0.5001, 3.0), (3.0, -0.5001), (7.5001, 3.0), (3.0, 7.5001)])
def test_inside_image_excludes_points_just_past_an_edge(point):
    assert not inside_image(np.array([point]), 8)[0]


def test_inside_image_margin_keeps_points_between_the_outermost_pixel_centres():
    size = 8
    on_centres = np.array([[0.0, 0.0], [7.0, 7.0], [0.0, 7.0]])
    in_the_band = np.array([[-0.25, 3.0], [3.0, 7.25], [-0.5, -0.5], [7.5, 7.5]])
    assert inside_image(on_centres, size, margin=0.5).all()
    assert not inside_image(in_the_band, size, margin=0.5).any()
    assert inside_image(in_the_band, size).all()


def test_inside_image_keeps_leading_dimensions():
    points = np.zeros((3, 5, 2))
    points[1, 2] = (-1.0, 0.0)
    inside = inside_image(points, 16)
    assert inside.shape == (3, 5)
    assert inside.sum() == 14 and not inside[1, 2]


def test_both_generators_label_valid_with_the_shared_rule():
    pose = synthetic_pose.generate_pose(6, 64, seed=1)
    np.testing.assert_array_equal(pose.valid, inside_image(pose.joints, 64, margin=0.5))
    faces = synthetic_face.generate_faces(3, 48, seed=2)
    np.testing.assert_array_equal(faces.valid, inside_image(faces.joints, 48))


def test_covered_looks_up_the_nearest_pixel_and_clamps_to_the_edge():
    coverage = np.zeros((4, 6), dtype=np.float32)
    coverage[1, 2] = 1.0
    coverage[3, 5] = 0.6
    coverage[0, 0] = 0.5  # not more than half
    points = np.array([[2.4, 0.6], [2.6, 1.0], [9.0, 9.0], [-3.0, -3.0]])
    np.testing.assert_array_equal(covered(coverage, points), [True, False, True, False])


# ------------------------------------------------------------------------------------ knob checks


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), float("inf"), True, "high", None])
def test_check_range_names_the_parameter_and_the_range(value):
    with pytest.raises(KnobError, match=r"^Owner\.knob must be in \[0, 1\], got ") as error:
        check_range("Owner.knob", value, 0.0, 1.0)
    assert isinstance(error.value, ValueError)  # callers that catch ValueError keep working
    assert repr(value) in str(error.value)


@pytest.mark.parametrize("value", [0, 1, 0.5, np.float32(0.25), np.int64(1)])
def test_check_range_accepts_real_numbers_in_range_including_the_bounds(value):
    check_range("knob", value, 0.0, 1.0)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (lambda: PoseSynthConfig(clutter=2.0), r"PoseSynthConfig\.clutter must be in \[0, 1\]"),
        (lambda: FaceSynthConfig(clutter=2.0), r"FaceSynthConfig\.clutter must be in \[0, 1\]"),
        (lambda: PoseSynthConfig(occluder_size=0.0), r"PoseSynthConfig\.occluder_size .*0\.02"),
        (lambda: FaceSynthConfig(blur=-1), r"FaceSynthConfig\.blur must be in \[0, 3\], got -1"),
    ],
)
def test_both_configs_raise_the_same_error_in_the_same_form(config, message):
    with pytest.raises(KnobError, match=message):
        config()


def test_check_knobs_names_the_config_class_and_field():
    class Knobs:
        speed = 3.0

    with pytest.raises(KnobError, match=r"Knobs\.speed must be in \[0, 2\], got 3\.0"):
        check_knobs(Knobs(), {"speed": (0.0, 2.0)})


def test_check_interval_returns_floats_and_names_what_is_wrong():
    assert check_interval("k", [1, 2], 0.0, 5.0) == (1.0, 2.0)
    with pytest.raises(KnobError, match=r"k must be a \(low, high\) pair, got \(1,\)"):
        check_interval("k", (1,), 0.0, 5.0)
    with pytest.raises(KnobError, match=r"k must be a \(low, high\) pair with low <= high"):
        check_interval("k", (3.0, 2.0), 0.0, 5.0)
    with pytest.raises(KnobError, match=r"k must be in \[0, 5\], got 6"):
        check_interval("k", (1, 6), 0.0, 5.0)


@pytest.mark.parametrize("value", [(), "a", ("a", "a"), ("a", "z"), 3])
def test_check_choices_rejects_empty_strings_repeats_and_unknowns(value):
    with pytest.raises(KnobError, match=r"^k must be a non-empty tuple of distinct choices"):
        check_choices("k", value, ("a", "b"))


def test_check_choices_returns_a_tuple():
    assert check_choices("k", ["b", "a"], ("a", "b")) == ("b", "a")


def test_check_flag_and_check_count_name_the_parameter():
    check_flag("flag", False)
    with pytest.raises(KnobError, match=r"^flag must be True or False, got 1$"):
        check_flag("flag", 1)
    assert check_count("n", np.int64(3), 1) == 3
    for value in (0, 2.0, True, "3"):
        with pytest.raises(KnobError, match=r"^n must be an integer >= 1, got "):
            check_count("n", value, 1)


@pytest.mark.parametrize(
    ("generate", "kwargs", "name"),
    [
        (synthetic_pose.generate_pose, {"num_images": 0}, "num_images"),
        (synthetic_face.generate_faces, {"num_images": 0}, "num_images"),
        (synthetic_pose.generate_pose, {"image_size": 31}, "image_size"),
        (synthetic_face.generate_faces, {"image_size": 31}, "image_size"),
        (synthetic_pose.generate_pose, {"seed": -1}, "seed"),
        (synthetic_face.generate_faces, {"seed": -1}, "seed"),
    ],
)
def test_both_generators_check_their_arguments_alike(generate, kwargs, name):
    arguments = {"num_images": 1, "image_size": 32, "seed": 0, **kwargs}
    with pytest.raises(KnobError, match=rf"^{name} must be an integer >= "):
        generate(**arguments)


@pytest.mark.parametrize(
    ("generate", "wrong"),
    [(synthetic_pose.generate_pose, FaceSynthConfig()), (synthetic_face.generate_faces, {})],
)
def test_both_generators_reject_a_config_of_the_wrong_type(generate, wrong):
    with pytest.raises(TypeError, match="config must be a "):
        generate(1, 32, 0, wrong)


# ----------------------------------------------------------------------- palettes and textures


def test_pick_is_deterministic_for_a_seed():
    table = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]], dtype=np.float32)
    first = [pick(np.random.default_rng(5), table, 0.9, 1.1) for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])
    colours = [pick(np.random.default_rng(seed), table, 1.0, 1.0) for seed in range(20)]
    assert all(any(np.array_equal(c, row) for row in table) for c in colours)
    assert len({c.tobytes() for c in colours}) > 1


@pytest.mark.parametrize("kind", ["noise", "streaks"])
def test_seeded_textures_render_the_same_for_the_same_seed(kind):
    def texture(seed: int) -> Texture:
        return Texture.shaded(np.random.default_rng(seed), (200.0, 100.0, 50.0), 0.3, kind=kind)

    box = (3, 4, 53, 64)
    first, again, other = texture(1).render(*box), texture(1).render(*box), texture(2).render(*box)
    assert first.shape == (60, 50, 3) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.min() >= 200.0 * 0.7 * 0.25 - 1e-3 and first.max() <= 200.0 * 1.3 + 1e-3


def test_tiles_are_a_fixed_bank_and_follow_the_texture_frame():
    bank = render.tile_bank()
    assert bank.shape == (4, 64, 64) and bank.min() == 0.0 and bank.max() == 1.0
    np.testing.assert_array_equal(bank, render.tile_bank())
    texture = Texture("tiles", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), period=4.0, tile=2)
    u, v = np.arange(64, dtype=np.float32)[None, :], np.arange(64, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(texture.colours(u, v)[..., 0], bank[2])  # one texel per pixel


def test_stripes_and_checks_are_two_coloured_and_periodic():
    black, white = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    stripes = Texture("stripes", black, white, period=8.0).render(0, 0, 32, 4)[..., 0]
    assert set(np.unique(stripes)) == {0.0, 1.0}
    # Period 8 (away from the zero crossings, where sin's rounding decides the side).
    np.testing.assert_array_equal(stripes[:, 1:4], stripes[:, 9:12])
    assert stripes[0, 1:4].tolist() == [1.0] * 3 and stripes[0, 5:8].tolist() == [0.0] * 3
    np.testing.assert_array_equal(stripes[0], stripes[3])  # angle 0: constant down a column
    checks = Texture("checks", black, white, period=4.0).render(0, 0, 8, 8)[..., 0]
    assert checks[0, 0] != checks[0, 4] and checks[0, 0] != checks[4, 0]
    assert checks[0, 0] == checks[4, 4]


def test_box_textures_cannot_be_evaluated_pointwise_and_kinds_are_checked():
    with pytest.raises(ValueError, match="render"):
        Texture("gradient", (0, 0, 0), (1, 1, 1)).colours(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="Texture.kind"):
        Texture("plaid", (0, 0, 0), (1, 1, 1))


# ------------------------------------------------------------------------------ canvas and sensor


def test_canvas_blend_and_coverage():
    canvas = Canvas(np.zeros((4, 4, 3), dtype=np.float32))
    region = (slice(0, 2), slice(0, 4))
    alpha = np.array([[1.0, 0.5, 0.0, 0.25]] * 2, dtype=np.float32)
    canvas.paint(region, alpha, np.float32(1.0))
    np.testing.assert_allclose(canvas.pixels[0, :, 0], [1.0, 0.5, 0.0, 0.25])
    assert not canvas.coverage.any()  # only tracked when asked for
    canvas.track_coverage = True
    canvas.paint(region, alpha, np.float32(0.0))
    np.testing.assert_allclose(canvas.coverage[1], [1.0, 0.5, 0.0, 0.25])
    np.testing.assert_allclose(canvas.pixels[0, :, 0], [0.0, 0.25, 0.0, 0.1875])


def test_canvas_mask_painting_and_analytic_shapes_share_the_blend():
    canvas = Canvas(np.zeros((16, 16, 3), dtype=np.float32), light=np.array([1.0, 0.0]))
    canvas.paint_polygon(np.array([[2.0, 2.0], [6.0, 2.0], [6.0, 6.0], [2.0, 6.0]]), (10, 20, 30))
    np.testing.assert_allclose(canvas.pixels[4, 4], [10, 20, 30])
    assert canvas.pixels[10, 10].sum() == 0
    canvas.ellipse(
        np.array([11.0, 11.0]), np.array([1.0, 0.0]), (3.0, 3.0), Texture.solid((5, 5, 5))
    )
    assert canvas.pixels[11, 11, 0] > 0 and canvas.pixels[4, 4, 0] == 10


def test_quantize_rounds_half_to_even_and_clips():
    values = np.array([-3.0, 0.4, 0.5, 1.5, 2.5, 254.6, 300.0], dtype=np.float32)
    np.testing.assert_array_equal(quantize(values), [0, 0, 0, 2, 2, 255, 255])
    assert quantize(values).dtype == np.uint8
