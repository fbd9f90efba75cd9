"""The ResNet-18 trunk (studylib.models.resnet): torchvision's parameter count, layout and
strides, argument checks, and loading torchvision's weight files (with errors that name the
file)."""

from __future__ import annotations

import pytest
import torch

from studylib.models.resnet import ResNet18, load_torchvision_weights


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet18_has_torchvisions_parameter_count():
    assert count(ResNet18(width=64, num_classes=1000)) == 11_689_512


def test_resnet18_uses_torchvisions_layout_and_strides():
    model = ResNet18(width=8, num_classes=10)
    keys = set(model.state_dict())
    for key in (
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.conv1.weight",
        "layer1.1.bn2.num_batches_tracked",
        "layer2.0.downsample.0.weight",
        "layer4.0.downsample.1.running_var",
        "fc.weight",
        "fc.bias",
    ):
        assert key in keys
    assert not any(key.startswith(("layer1.0.downsample", "layer4.1.downsample")) for key in keys)
    images = torch.randn(2, 3, 64, 64)
    assert model.forward_features(images).shape == (2, 64, 2, 2)
    assert model(images).shape == (2, 10)
    fine = ResNet18(width=8, num_classes=None, layer4_stride=1)
    assert fine.total_stride == 16
    assert fine.forward_features(images).shape == (2, 64, 4, 4)
    assert fine(images).shape == (2, 64)


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"layer4_stride": 4}, {"num_classes": 0}])
def test_resnet18_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ResNet18(**kwargs)


def test_load_torchvision_weights_round_trips(tmp_path):
    torch.manual_seed(0)
    source = ResNet18(width=8, num_classes=1000)
    state = {key: value for key, value in source.state_dict().items()}
    # torchvision's older files have no num_batches_tracked buffers; they must still load.
    state = {key: value for key, value in state.items() if not key.endswith("num_batches_tracked")}
    path = tmp_path / "resnet18-test.pth"
    torch.save(state, path)

    same = ResNet18(width=8, num_classes=1000)
    assert load_torchvision_weights(same, path) == ()
    for key, value in source.state_dict().items():
        assert torch.equal(same.state_dict()[key], value), key

    other_classes = ResNet18(width=8, num_classes=10)
    fc_before = other_classes.fc.weight.clone()
    assert load_torchvision_weights(other_classes, path) == ("fc.bias", "fc.weight")
    assert torch.equal(other_classes.fc.weight, fc_before)
    assert torch.equal(other_classes.layer3[1].conv2.weight, source.layer3[1].conv2.weight)

    trunk_only = ResNet18(width=8, num_classes=None, layer4_stride=1)
    assert load_torchvision_weights(trunk_only, path) == ("fc.bias", "fc.weight")
    assert torch.equal(trunk_only.conv1.weight, source.conv1.weight)


def test_load_torchvision_weights_errors_name_the_file(tmp_path):
    model = ResNet18(width=8)
    state = ResNet18(width=8).state_dict()

    missing_file = tmp_path / "absent.pth"
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        load_torchvision_weights(model, missing_file)

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a pytorch file")
    with pytest.raises(ValueError, match="garbage.pth.*not a readable"):
        load_torchvision_weights(model, garbage)

    a_list = tmp_path / "list.pth"
    torch.save([1, 2, 3], a_list)
    with pytest.raises(ValueError, match="list.pth.*not a state dict"):
        load_torchvision_weights(model, a_list)

    checkpoint = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": state, "epoch": 3}, checkpoint)
    with pytest.raises(ValueError, match="checkpoint.pth.*not a state dict.*checkpoint"):
        load_torchvision_weights(model, checkpoint)

    wider = tmp_path / "wide.pth"
    torch.save(ResNet18(width=16).state_dict(), wider)
    with pytest.raises(ValueError, match="wide.pth.*width 16.*width=8.*width=64"):
        load_torchvision_weights(model, wider)

    incomplete = tmp_path / "incomplete.pth"
    torch.save({k: v for k, v in state.items() if k != "layer2.1.conv1.weight"}, incomplete)
    with pytest.raises(ValueError, match="incomplete.pth.*missing keys: layer2.1.conv1.weight"):
        load_torchvision_weights(model, incomplete)

    extra = tmp_path / "extra.pth"
    torch.save({**state, "layer5.0.conv1.weight": torch.zeros(1)}, extra)
    with pytest.raises(ValueError, match="extra.pth.*unexpected keys: layer5.0.conv1.weight"):
        load_torchvision_weights(model, extra)
