"""LandmarkNet (studylib.models.landmark): the ResNet / ODN / ADM variants' outputs, the
distillation module and its attention orders, coordinates, gradients, the loss and its
nuclear-norm penalty (also without an SVD), parameter counts, a pretrained trunk, argument checks.
"""

from __future__ import annotations

import pytest
import torch

from studylib.models.attention import CBAM
from studylib.models.landmark import (
    MODULE_GROUPS,
    VARIANTS,
    LandmarkNet,
    LowRankRegression,
    normalized_to_pixels,
    pixels_to_normalized,
    regression_loss,
    variant_parameter_counts,
)
from studylib.models.resnet import ResNet18

#: Small settings that keep every test well under a second: C = 32, a 2 x 2 last feature map.
SMALL = {"width": 4, "input_size": 64, "rank": 8}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("variant", VARIANTS)
def test_landmarknet_output_shapes(variant):
    torch.manual_seed(0)
    net = LandmarkNet(5, variant=variant, **SMALL)
    output = net(torch.randn(2, 3, 64, 64))
    assert output.landmarks.shape == output.normalized.shape == (2, 5, 2)
    if variant == "resnet":
        assert output.occlusion is None
    else:
        assert output.occlusion.shape == (2, 1, 2, 2)
        assert ((output.occlusion > 0) & (output.occlusion < 1)).all()
    if variant == "adm":
        assert output.channel_attention.shape == (2, 32, 1, 1)
        assert output.spatial_attention.shape == (2, 1, 2, 2)
    else:
        assert output.channel_attention is None and output.spatial_attention is None


@pytest.mark.parametrize(
    ("order", "has_channel", "has_spatial"),
    [
        ("spatial-channel", True, True),
        ("channel", True, False),
        ("spatial", False, True),
        ("none", False, False),
    ],
)
def test_adm_returns_the_maps_its_order_computes(order, has_channel, has_spatial):
    net = LandmarkNet(5, attention_order=order, variant="adm", layer4_stride=1, **SMALL)
    output = net(torch.randn(2, 3, 64, 64))
    assert output.occlusion.shape == (2, 1, 4, 4)
    assert (output.channel_attention is not None) == has_channel
    assert (output.spatial_attention is not None) == has_spatial
    if has_spatial:
        assert output.spatial_attention.shape == (2, 1, 4, 4)


def test_adm_pathway_c_is_cbam_plus_residual_weighted_by_visibility():
    torch.manual_seed(0)
    net = LandmarkNet(5, variant="adm", **SMALL).eval()
    features = net.backbone.forward_features(torch.randn(2, 3, 64, 64))
    cbam = net.distillation.feature_pathway.attention
    occlusion = net.distillation.occlusion_pathway(features)
    expected = (1 - occlusion) * (cbam.spatial(cbam.channel(features)) + features)
    distilled, occlusion_map, _ = net.distillation(features)
    assert torch.allclose(distilled, expected, atol=1e-6)
    assert torch.equal(occlusion_map, occlusion)


def test_the_no_attention_control_passes_the_features_at_their_own_scale():
    # Z = F, not CBAM's identity plus the residual (2 F): the control differs from the other
    # orders by the attention alone, not by the scale of what enters the low-rank module.
    torch.manual_seed(0)
    net = LandmarkNet(5, variant="adm", attention_order="none", **SMALL).eval()
    features = net.backbone.forward_features(torch.randn(2, 3, 64, 64))
    occlusion = net.distillation.occlusion_pathway(features)
    distilled, _, _ = net.distillation(features)
    assert torch.allclose(distilled, (1 - occlusion) * features, atol=1e-6)


def test_landmarks_are_normalized_coordinates_in_input_pixels():
    net = LandmarkNet(5, variant="odn", **SMALL)
    output = net(torch.randn(2, 3, 64, 64))
    assert torch.allclose(output.landmarks, (output.normalized + 1) / 2 * 64 - 0.5)
    assert torch.allclose(pixels_to_normalized(output.landmarks, 64), output.normalized, atol=1e-6)
    # The edges of the input are -1 and +1; pixel centres 0 and 63 lie half a pixel inside.
    edges = torch.tensor([-1.0, 0.0, 1.0])
    assert normalized_to_pixels(edges, 64).tolist() == [-0.5, 31.5, 63.5]
    assert pixels_to_normalized(torch.tensor([0.0, 63.0]), 64).tolist() == [-63 / 64, 63 / 64]


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_every_parameter(variant):
    torch.manual_seed(0)
    net = LandmarkNet(5, variant=variant, alpha=1e-3, **SMALL)
    output = net(torch.randn(4, 3, 64, 64))
    net.loss(output, torch.rand(4, 5, 2) * 2 - 1).backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, f"{name} gets no gradient"
        assert torch.isfinite(parameter.grad).all(), name
    for group in MODULE_GROUPS:
        module = getattr(net, group)
        if module is not None:
            assert sum(p.grad.abs().sum() for p in module.parameters()) > 0, group


def test_loss_is_l2_plus_alpha_times_nuclear_norm_of_m():
    torch.manual_seed(0)
    net = LandmarkNet(5, variant="adm", alpha=0.01, **SMALL)
    output = net(torch.randn(2, 3, 64, 64))
    target = torch.rand(2, 5, 2) * 2 - 1
    M = net.low_rank.M
    assert M.shape == ((16 + 32) * 2 * 2, 8)
    nuclear = torch.linalg.svdvals(M).sum()
    expected = ((output.normalized - target) ** 2).sum(dim=(1, 2)).mean() + 0.01 * nuclear
    assert torch.allclose(net.loss(output, target), expected, rtol=1e-5)
    assert torch.allclose(net.rank_penalty(), nuclear, rtol=1e-5)
    baseline = LandmarkNet(5, variant="resnet", alpha=0.01, **SMALL)
    assert baseline.rank_penalty().item() == 0.0


def test_rank_penalty_lowers_the_nuclear_norm_of_m():
    torch.manual_seed(0)
    features = torch.randn(256, 32)
    truth = torch.randn(32, 2) @ torch.randn(2, 6)  # a rank-2 linear map
    target = features @ truth + 0.05 * torch.randn(256, 6)

    def train(alpha: float) -> LowRankRegression:
        torch.manual_seed(1)
        module = LowRankRegression(32, rank=16, out_features=6)
        optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
        for _ in range(200):
            optimizer.zero_grad()
            loss = regression_loss(module(features), target)
            (loss + alpha * module.nuclear_norm()).backward()
            optimizer.step()
        return module

    plain, penalised = train(0.0), train(0.5)
    with torch.no_grad():
        plain_norm, penalised_norm = plain.nuclear_norm().item(), penalised.nuclear_norm().item()
        plain_fit = regression_loss(plain(features), target).item()
        penalised_fit = regression_loss(penalised(features), target).item()
        values = torch.linalg.svdvals(penalised.M)
    assert penalised_norm < 0.5 * plain_norm
    # The penalty costs little fit on a problem that is low-rank to begin with.
    assert penalised_fit < 0.1
    assert plain_fit < 0.1
    # The penalty finds the rank (2) of the map: the other 14 directions of M are switched off.
    assert (values > 0.05 * values.max()).sum() <= 3


@pytest.mark.parametrize("shape", [(2048, 128), (300, 32), (64, 64)])
def test_nuclear_norm_without_svd_matches_the_svd(shape):
    generator = torch.Generator().manual_seed(sum(shape))
    u, _ = torch.linalg.qr(torch.randn(shape, generator=generator))
    v, _ = torch.linalg.qr(torch.randn(shape[1], shape[1], generator=generator))
    singular = torch.logspace(0, -3, shape[1])  # a condition number of 1,000
    m = ((u * singular) @ v.T * 0.01).requires_grad_()
    want = torch.linalg.matrix_norm(m, "nuc")
    (want_grad,) = torch.autograd.grad(want, m)
    got = LowRankRegression.nuclear_norm_polar(m)
    (got_grad,) = torch.autograd.grad(got, m)
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-5)
    assert float((got_grad - want_grad).norm() / want_grad.norm()) < 1e-3
    zero = LowRankRegression.nuclear_norm_polar(torch.zeros(8, 4, requires_grad=True))
    assert float(zero.detach()) == 0.0


@pytest.mark.parametrize("variant", VARIANTS)
def test_module_parameter_counts_sum_to_the_total(variant):
    net = LandmarkNet(5, variant=variant, **SMALL)
    counts = net.module_parameter_counts()
    assert set(counts) == set(MODULE_GROUPS)
    assert sum(counts.values()) == count(net)
    assert counts["backbone"] == count(ResNet18(width=4, num_classes=None))


def test_adm_has_fewer_parameters_than_odn_at_paper_scale():
    counts = variant_parameter_counts(68, width=64, input_size=224)
    for variant, per_module in counts.items():
        print(variant, per_module)
    odn, adm, resnet = counts["odn"], counts["adm"], counts["resnet"]
    assert adm["distillation"] < odn["distillation"]
    assert adm["total"] < odn["total"]
    for group in ("backbone", "geometry", "low_rank"):
        assert adm[group] == odn[group]
    assert resnet["backbone"] == 11_689_512 - (512 * 1000 + 1000)
    assert resnet["head"] == 512 * 136 + 136
    # ADM's pathway-C is CBAM with r = 8: a 512 -> 64 -> 512 MLP and a 7 x 7 conv on 2 maps.
    cbam = 512 * 64 + 64 + 64 * 512 + 512 + 2 * 49 + 1
    odn_conv = 9 * 512 * 512 + 2 * 512
    assert odn["distillation"] - adm["distillation"] == odn_conv - cbam


def test_pretrained_backbone_is_loaded(tmp_path):
    torch.manual_seed(0)
    source = ResNet18(width=4, num_classes=1000)
    path = tmp_path / "trunk.pth"
    torch.save(source.state_dict(), path)
    net = LandmarkNet(5, variant="adm", pretrained_backbone=path, **SMALL)
    assert torch.equal(net.backbone.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variant": "cbam"}, "variant.*resnet"),
        ({"attention_order": "channel_then_spatial"}, "attention_order.*spatial-channel"),
        ({"reduction_ratio": 3}, "reduction_ratio=3.*channels=32"),
        ({"reduction_ratio": 0}, "reduction_ratio"),
        ({"input_size": 48}, "input_size=48.*stride 32"),
        ({"input_size": 40, "layer4_stride": 1}, "input_size=40.*stride 16"),
        ({"rank": 0}, "rank"),
        ({"alpha": -1.0}, "alpha"),
        ({"num_landmarks": 0}, "num_landmarks"),
    ],
)
def test_landmarknet_rejects_bad_arguments(kwargs, match):
    arguments = {"num_landmarks": 5, **SMALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        LandmarkNet(**arguments)


def test_landmarknet_rejects_images_of_another_size():
    net = LandmarkNet(5, variant="resnet", **SMALL)
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        net(torch.randn(2, 3, 96, 96))


def test_attention_order_default_is_the_papers():
    net = LandmarkNet(5, **SMALL)
    assert net.variant == "adm" and net.reduction_ratio == 8
    cbam = net.distillation.feature_pathway.attention
    assert isinstance(cbam, CBAM) and cbam.order == "channel-spatial"
    assert cbam.channel.pooling == ("avg", "max")
