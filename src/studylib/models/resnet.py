"""ResNet-18 (He et al., 2016) in torchvision's state-dict layout, with a width knob.

The module names are torchvision's (``conv1``, ``bn1``, ``layer1`` ... ``layer4`` made of
``BasicBlock``s with ``conv1/bn1/conv2/bn2`` and ``downsample.0/downsample.1``, ``fc``), so the
ImageNet weights torchvision publishes (e.g. ``resnet18-f37072fd.pth``) load with
:func:`load_torchvision_weights`. Nothing is downloaded: the network is trained from scratch
unless a local weights file is given. There is no torchvision dependency.

Two knobs beyond torchvision's:

* ``width``: the channels of the first stage (64 is the standard network; the stages have
  ``width, 2 width, 4 width, 8 width`` channels). Smaller widths make CPU profiles fast; only
  width 64 can take torchvision's weights.
* ``layer4_stride``: 2 (standard, total stride 32: a 7 x 7 map for a 224 x 224 input) or 1 (total
  stride 16: a 14 x 14 map), for heads that need a finer last feature map.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

#: Blocks per stage of ResNet-18.
RESNET18_LAYERS = (2, 2, 2, 2)


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions with a shortcut; a 1 x 1 projection when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        needs_projection = stride != 1 or in_channels != out_channels
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
            if needs_projection
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class ResNet18(nn.Module):
    """ResNet-18: stem, four stages of two BasicBlocks, global average pool, classifier.

    Args:
        width: channels of the first stage (64 = the standard network).
        num_classes: outputs of the classifier ``fc``; ``None`` builds no classifier (``fc`` is an
            identity and ``forward`` returns the pooled features).
        layer4_stride: stride of the last stage, 2 (standard) or 1 (finer last feature map).

    Initialisation follows torchvision: Kaiming-normal (fan-out, ReLU) convolutions, batch norms
    at weight 1 and bias 0, PyTorch's default for ``fc``.
    """

    def __init__(
        self, width: int = 64, num_classes: int | None = 1000, layer4_stride: int = 2
    ) -> None:
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got width={width!r}")
        if layer4_stride not in (1, 2):
            raise ValueError(f"layer4_stride must be 1 or 2, got layer4_stride={layer4_stride!r}")
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
        ):
            raise ValueError(f"num_classes must be a positive int or None, got {num_classes!r}")
        self.width = width
        self.layer4_stride = layer4_stride
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stage_channels = (width, 2 * width, 4 * width, 8 * width)
        stage_strides = (1, 2, 2, layer4_stride)
        in_channels = width
        for index, (channels, stride, blocks) in enumerate(
            zip(stage_channels, stage_strides, RESNET18_LAYERS, strict=True), start=1
        ):
            stage = nn.Sequential(
                BasicBlock(in_channels, channels, stride),
                *(BasicBlock(channels, channels) for _ in range(blocks - 1)),
            )
            self.add_module(f"layer{index}", stage)
            in_channels = channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes) if num_classes is not None else nn.Identity()
        self._init_weights()

    @property
    def out_channels(self) -> int:
        """Channels of the last feature map (8 x width)."""
        return 8 * self.width

    @property
    def total_stride(self) -> int:
        """Input pixels per cell of the last feature map (32, or 16 with ``layer4_stride=1``)."""
        return 16 * self.layer4_stride

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """The output of ``layer4``: (B, 8 width, H / stride, W / stride)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward(self, x: Tensor) -> Tensor:
        """Class scores (B, num_classes), or pooled features (B, 8 width) without a classifier."""
        pooled = torch.flatten(self.avgpool(self.forward_features(x)), 1)
        return self.fc(pooled)


def _format_keys(keys: set[str], limit: int = 12) -> str:
    ordered = sorted(keys)
    shown = ", ".join(ordered[:limit])
    more = len(ordered) - limit
    return shown + (f", ... ({more} more)" if more > 0 else "")


def load_torchvision_weights(model: ResNet18, path: str | Path) -> tuple[str, ...]:
    """Load a local torchvision ResNet-18 state dict (e.g. ``resnet18-f37072fd.pth``) in ``model``.

    The trunk (every key but ``fc.*``) must match exactly: a missing or unexpected key, or a tensor
    of another shape, is a ValueError that names the file and lists the keys. ``fc.*`` is loaded
    when the model has a classifier of the same shape and ignored otherwise (a model built with
    another ``num_classes``, or with none). ``num_batches_tracked`` buffers may be absent from the
    file (older torchvision files lack them). A width mismatch (torchvision's weights are width 64)
    is reported as such. The model's ``layer4_stride`` does not matter: strides have no weights.

    Returns:
        The keys of the file that were ignored (the ``fc.*`` keys, or none).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable PyTorch file, does not hold a state dict, or does
            not fit the model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file (expected a local torchvision ResNet-18 state dict such as "
            f"resnet18-f37072fd.pth; studylib downloads nothing)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises several types for a corrupt or foreign file
        raise ValueError(f"{path}: not a readable PyTorch weights file ({error})") from error
    if not isinstance(state, Mapping) or not all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in state.items()
    ):
        hint = ""
        if isinstance(state, Mapping) and {"state_dict", "model"} & set(state):
            hint = "; it looks like a training checkpoint: save its state dict on its own"
        raise ValueError(
            f"{path}: not a state dict (a mapping of parameter names to tensors), "
            f"got a {type(state).__name__}{hint}"
        )

    expected = model.state_dict()
    file_width = state["conv1.weight"].shape[0] if "conv1.weight" in state else None
    if file_width is not None and file_width != model.width:
        raise ValueError(
            f"{path}: the weights are for width {file_width} (conv1.weight has {file_width} "
            f"filters) but the model has width={model.width}; torchvision's ResNet-18 weights "
            f"need width=64"
        )

    def is_classifier(key: str) -> bool:
        return key.startswith("fc.")

    trunk_expected = {key for key in expected if not is_classifier(key)}
    trunk_given = {key for key in state if not is_classifier(key)}
    missing = {
        key for key in trunk_expected - trunk_given if not key.endswith("num_batches_tracked")
    }
    unexpected = trunk_given - trunk_expected
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing keys: {_format_keys(missing)}")
        if unexpected:
            problems.append(f"unexpected keys: {_format_keys(unexpected)}")
        raise ValueError(
            f"{path}: does not fit a ResNet-18 trunk in torchvision's layout; "
            + "; ".join(problems)
        )
    mismatched = {key for key in trunk_given if state[key].shape != expected[key].shape}
    if mismatched:
        details = ", ".join(
            f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
            for key in sorted(mismatched)[:12]
        )
        raise ValueError(
            f"{path}: tensors of other shapes than the model's (file vs model): {details}"
        )

    classifier_keys = {key for key in state if is_classifier(key)}
    model_classifier_keys = {key for key in expected if is_classifier(key)}
    classifier_fits = (
        bool(classifier_keys)
        and classifier_keys == model_classifier_keys
        and all(state[key].shape == expected[key].shape for key in classifier_keys)
    )
    ignored = set() if classifier_fits else classifier_keys
    to_load = {key: value for key, value in state.items() if key not in ignored}
    model.load_state_dict(to_load, strict=False)
    return tuple(sorted(ignored))
