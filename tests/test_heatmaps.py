"""Heatmaps (studylib.data.heatmaps): Gaussian targets, argmax decoding with its quarter-pixel
shift, and heatmap/image coordinates."""

import torch

from studylib.data.heatmaps import (
    decode_heatmaps,
    heatmap_to_image,
    image_to_heatmap,
    render_heatmaps,
)


def test_heatmap_peaks_at_the_joints():
    points = torch.tensor([[[3.0, 5.0], [10.0, 2.0]]])
    maps = render_heatmaps(points, torch.tensor([[True, True]]), size=16, sigma=1.0)
    assert maps.shape == (1, 2, 16, 16)
    for k, (x, y) in enumerate(points[0].long().tolist()):
        flat = maps[0, k].argmax()
        assert (flat // 16, flat % 16) == (y, x)
        assert maps[0, k, y, x] == 1.0


def test_invalid_joints_get_empty_maps():
    maps = render_heatmaps(torch.tensor([[[3.0, 5.0]]]), torch.tensor([[False]]), size=8)
    assert maps.abs().sum() == 0


def test_plain_argmax_decodes_integer_peaks():
    maps = render_heatmaps(torch.tensor([[[6.0, 9.0]]]), torch.tensor([[True]]), size=16)
    points, scores = decode_heatmaps(maps, subpixel=False)
    assert points.tolist() == [[[6.0, 9.0]]]
    assert torch.allclose(scores, torch.ones(1, 1))


def test_quarter_shift_moves_toward_the_higher_neighbour():
    # A peak at x = 6.3, y = 8.8: the argmax is (6, 9); the shift goes right (+) in x, up (-) in y.
    maps = render_heatmaps(torch.tensor([[[6.3, 8.8]]]), torch.tensor([[True]]), size=16)
    points, _ = decode_heatmaps(maps)
    assert torch.allclose(points, torch.tensor([[[6.25, 8.75]]]))


def test_quarter_shift_halves_the_quantisation_error():
    generator = torch.Generator().manual_seed(0)
    true = 2 + 12 * torch.rand(1, 200, 2, generator=generator)
    maps = render_heatmaps(true, torch.ones(1, 200, dtype=torch.bool), size=16)
    plain = (decode_heatmaps(maps, subpixel=False)[0] - true).abs().mean()
    shifted = (decode_heatmaps(maps)[0] - true).abs().mean()
    assert shifted < 0.75 * plain


def test_no_shift_on_the_border():
    maps = torch.zeros(1, 1, 8, 8)
    maps[0, 0, 0, 0] = 1.0
    maps[0, 0, 0, 1] = 0.5
    points, _ = decode_heatmaps(maps)
    assert points.tolist() == [[[0.0, 0.0]]]


def test_image_heatmap_coordinates_round_trip():
    x = torch.tensor([[[0.0, 0.0], [127.0, 63.5], [-0.5, 10.25]]])
    assert torch.allclose(heatmap_to_image(image_to_heatmap(x, 4), 4), x)
    # The centre of heatmap pixel 0 covers image pixels 0..3, whose centre is 1.5.
    assert torch.allclose(heatmap_to_image(torch.zeros(1, 1, 2), 4), torch.full((1, 1, 2), 1.5))
