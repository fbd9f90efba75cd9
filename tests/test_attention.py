"""CBAM (studylib.models.attention): the gates' structure, the six orders, argument checks."""

from __future__ import annotations

import copy

import pytest
import torch

from studylib.models.attention import CBAM, ChannelAttention, SpatialAttention


@pytest.fixture
def features() -> torch.Tensor:
    torch.manual_seed(0)
    # Positive, so that output / input is defined everywhere.
    return torch.rand(3, 16, 5, 6) + 0.5


def test_channel_gate_scales_each_channel_by_one_factor(features):
    gate = ChannelAttention(16, reduction_ratio=4)
    ratio = gate(features) / features
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-6)
    assert torch.allclose(ratio[:, :, 0, 0], gate.gate(features)[:, :, 0, 0], atol=1e-6)
    assert gate.gate(features).shape == (3, 16, 1, 1)
    # Not one factor for all channels: the gate does select channels.
    assert ratio[:, :, 0, 0].std() > 1e-4


def test_channel_gate_uses_one_shared_mlp_on_avg_and_max(features):
    gate = ChannelAttention(16, reduction_ratio=4)
    avg, mx = features.mean(dim=(2, 3)), features.amax(dim=(2, 3))
    expected = torch.sigmoid(gate.mlp(avg) + gate.mlp(mx))
    assert torch.allclose(gate.gate(features)[:, :, 0, 0], expected, atol=1e-6)
    assert sum(p.numel() for p in gate.parameters()) == 16 * 4 + 4 + 4 * 16 + 16
    avg_only = ChannelAttention(16, reduction_ratio=4, pooling=("avg",))
    assert torch.allclose(
        avg_only.gate(features)[:, :, 0, 0], torch.sigmoid(avg_only.mlp(avg)), atol=1e-6
    )


@pytest.mark.parametrize("pooling", [(), ("avg", "avg"), ("mean",)])
def test_channel_gate_rejects_bad_pooling(pooling):
    with pytest.raises(ValueError, match="pooling"):
        ChannelAttention(16, 4, pooling=pooling)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_spatial_gate_scales_every_channel_equally(features, batch_norm):
    gate = SpatialAttention(kernel_size=3, batch_norm=batch_norm)
    ratio = gate(features) / features
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-6)
    assert torch.allclose(ratio[:, :1], gate.gate(features), atol=1e-6)
    assert gate.gate(features).shape == (3, 1, 5, 6)
    assert ratio[:, 0].std() > 1e-4


def test_spatial_gate_is_a_conv_of_channel_mean_and_max(features):
    gate = SpatialAttention(kernel_size=7)
    descriptor = torch.cat(
        [features.mean(dim=1, keepdim=True), features.amax(dim=1, keepdim=True)], dim=1
    )
    assert torch.allclose(gate.gate(features), torch.sigmoid(gate.conv(descriptor)), atol=1e-6)
    assert sum(p.numel() for p in gate.parameters()) == 2 * 7 * 7 + 1


@pytest.mark.parametrize("kernel_size", [6, 0, -3, 2.0])
def test_spatial_gate_rejects_even_or_non_positive_kernels(kernel_size):
    with pytest.raises(ValueError, match="kernel_size"):
        SpatialAttention(kernel_size=kernel_size)


@pytest.mark.parametrize("order", CBAM.ORDERS)
def test_cbam_orders_equal_their_compositions(features, order):
    torch.manual_seed(1)
    cbam = CBAM(16, reduction_ratio=4, order=order, kernel_size=3)
    channel, spatial = cbam.channel, cbam.spatial
    expected = {
        "channel-spatial": lambda x: spatial(channel(x)),
        "spatial-channel": lambda x: channel(spatial(x)),
        "parallel": lambda x: x * channel.gate(x) * spatial.gate(x),
        "channel": lambda x: channel(x),
        "spatial": lambda x: spatial(x),
        "none": lambda x: x,
    }[order](features)
    assert torch.allclose(cbam(features), expected, atol=1e-6)
    output, maps = cbam.forward_with_maps(features)
    assert torch.equal(output, cbam(features))
    assert set(maps) == set(cbam.attention_maps(features))


def test_cbam_holds_only_the_gates_its_order_uses():
    uses = {
        "channel-spatial": (True, True),
        "spatial-channel": (True, True),
        "parallel": (True, True),
        "channel": (True, False),
        "spatial": (False, True),
        "none": (False, False),
    }
    for order, (has_channel, has_spatial) in uses.items():
        cbam = CBAM(16, 4, order=order)
        assert (cbam.channel is not None) == has_channel
        assert (cbam.spatial is not None) == has_spatial
        maps = cbam.attention_maps(torch.rand(2, 16, 4, 4))
        assert set(maps) == {
            name
            for name, used in zip(("channel", "spatial"), (has_channel, has_spatial), strict=True)
            if used
        }
    full = sum(p.numel() for p in CBAM(16, 4, "channel-spatial").parameters())
    assert full == sum(p.numel() for p in CBAM(16, 4, "parallel").parameters())
    assert sum(p.numel() for p in CBAM(16, 4, "none").parameters()) == 0


def test_cbam_attention_maps_follow_the_order(features):
    torch.manual_seed(2)
    cbam = CBAM(16, 4, order="channel-spatial")
    maps = cbam.attention_maps(features)
    assert maps["channel"].shape == (3, 16, 1, 1) and maps["spatial"].shape == (3, 1, 5, 6)
    # The spatial gate is computed from the channel-refined features.
    assert torch.allclose(maps["spatial"], cbam.spatial.gate(cbam.channel(features)), atol=1e-6)
    assert not torch.allclose(maps["spatial"], cbam.spatial.gate(features), atol=1e-4)
    reverse = CBAM(16, 4, order="spatial-channel")
    reverse_maps = reverse.attention_maps(features)
    expected = reverse.channel.gate(reverse.spatial(features))
    assert torch.allclose(reverse_maps["channel"], expected, atol=1e-6)


def test_cbam_survives_deepcopy(features):
    cbam = CBAM(16, 4, order="spatial-channel")
    clone = copy.deepcopy(cbam)
    with torch.no_grad():
        for parameter in clone.parameters():
            parameter.add_(0.5)
    assert not torch.allclose(clone(features), cbam(features))
    assert torch.allclose(clone(features), clone.channel(clone.spatial(features)), atol=1e-6)


@pytest.mark.parametrize("ratio", [3, 0, -4, 2.0, "8", True])
def test_bad_reduction_ratio_is_a_value_error_naming_it(ratio):
    with pytest.raises(ValueError, match="reduction_ratio") as error:
        ChannelAttention(16, ratio)
    assert repr(ratio) in str(error.value) or str(ratio) in str(error.value)
    assert "16" in str(error.value)
    with pytest.raises(ValueError, match="reduction_ratio"):
        CBAM(16, ratio, order="spatial")


def test_unknown_order_lists_the_valid_ones():
    with pytest.raises(ValueError, match="channel-spatial") as error:
        CBAM(16, 4, order="channel_spatial")
    for order in CBAM.ORDERS:
        assert order in str(error.value)
