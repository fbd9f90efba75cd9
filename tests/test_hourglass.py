"""Stacked hourglass and ACNN (studylib.models.hourglass): shapes, parameter counts, Eq. 4, the
mask heads and their gradients, argument checks. How a training phase freezes its parts is in
test_train.py."""

import pytest
import torch

from helpers import small_hourglass
from studylib.models import StackedHourglass, count_parameters
from studylib.models.hourglass import MaskHead


def test_output_shapes():
    out = small_hourglass("acnn")(torch.rand(2, 3, 64, 64))
    assert len(out.heatmaps) == len(out.masks) == len(out.predictions) == 3
    assert out.heatmaps[0].shape == out.predictions[2].shape == (2, 5, 16, 16)
    assert out.masks[0].shape == (2, 1, 16, 16)


def test_newell_parameter_count():
    # Newell et al.'s 4-stack, 256-feature network for 16 joints: about 12.86 M parameters.
    assert count_parameters(StackedHourglass(4, 256, 16)) == 12_858_304


def test_mask_heads_add_one_head_per_stage_but_the_last():
    plain, acnn = StackedHourglass(4, 64, 16), StackedHourglass(4, 64, 16, attention="acnn")
    heads = count_parameters(acnn.parameter_groups()["mask"])
    assert len(acnn.mask_heads) == 3
    assert count_parameters(acnn) - count_parameters(plain) == heads > 0


def test_without_attention_predictions_are_the_heatmaps_and_masks_are_ones():
    out = small_hourglass(None)(torch.rand(2, 3, 64, 64))
    for h, p, m in zip(out.heatmaps, out.predictions, out.masks):
        assert torch.equal(h, p)
        assert torch.equal(m, torch.ones_like(m))


def test_eq4_composition_holds_numerically():
    model = small_hourglass("acnn")
    for head in model.mask_heads:  # masks far from 0 and 1 so every term matters
        torch.nn.init.normal_(head.layers[-1].weight, std=1.0)
        torch.nn.init.zeros_(head.layers[-1].bias)
    out = model(torch.rand(2, 3, 64, 64))
    assert torch.equal(
        out.predictions[0], out.heatmaps[0]
    )  # P_1 = H_1: the initial mask M_0 is all ones
    for i in range(1, 3):
        expected = out.heatmaps[i] + out.predictions[i - 1] * (1 - out.masks[i - 1])
        assert torch.allclose(out.predictions[i], expected, atol=1e-6)
    assert 0.05 < out.masks[0].mean() < 0.95


def test_masks_gate_the_features_passed_on():
    model = small_hourglass("acnn", stacks=2).eval()
    images = torch.rand(2, 3, 64, 64)
    open_gate = model(images).heatmaps[1]
    assert not torch.allclose(open_gate[0], open_gate[1])
    torch.nn.init.constant_(model.mask_heads[0].layers[-1].bias, -50.0)  # M_1 ~ 0
    closed = model(images)
    assert closed.masks[0].max() < 1e-6
    # Stage 2 sees nothing of its input, so its heatmaps no longer depend on the image.
    assert torch.allclose(closed.heatmaps[1][0], closed.heatmaps[1][1], atol=1e-5)


def test_new_mask_heads_start_near_all_ones_and_every_layer_learns():
    model = small_hourglass("acnn")
    out = model(torch.rand(2, 3, 64, 64))
    assert out.masks[0].min() > 0.8 and out.masks[0].max() < 0.95
    out.masks[0].sum().backward()
    first = model.mask_heads[0].layers[0]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in first.parameters())


def test_gradients_at_masks_and_heatmaps_are_logged_per_element():
    model = small_hourglass("acnn", stacks=2)
    out = model(torch.rand(2, 3, 64, 64))
    sum(p.pow(2).mean() for p in out.predictions).backward()
    rms = model.tensor_gradient_rms()
    assert set(rms) == {"mask", "heatmap"} and all(v > 0 for v in rms.values())
    assert model.tensor_gradient_rms() == {}  # read once, then reset


def test_hard_masks_are_binary_and_pass_a_gradient():
    head = MaskHead(8, hard=True)
    torch.nn.init.normal_(head.layers[-1].weight)
    torch.nn.init.zeros_(head.layers[-1].bias)
    x = torch.randn(2, 8, 8, 8)
    mask = head(x)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    mask.sum().backward()
    assert head.layers[-1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(attention="cbam"), "attention must be one of"),
        (dict(mask="binary", attention="acnn"), "mask must be one of"),
        (dict(features=30), "multiple of 4"),
        (dict(num_stacks=0), "num_stacks must be a positive integer"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StackedHourglass(**{"num_stacks": 2, "features": 16, "num_joints": 4, **kwargs})


def test_input_size_not_a_multiple_is_a_clear_error():
    with pytest.raises(ValueError, match="multiples of 64"):
        small_hourglass()(torch.rand(1, 3, 96, 96))


def test_module_parameter_counts_sum_to_the_total():
    model = small_hourglass("acnn")
    parts = model.module_parameter_counts()
    assert sum(parts.values()) == count_parameters(model)
    assert parts["mask heads"] == count_parameters(model.mask_heads) > 0
    assert small_hourglass(None).module_parameter_counts()["mask heads"] == 0
