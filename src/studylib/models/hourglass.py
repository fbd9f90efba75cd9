"""Stacked hourglass (Newell et al. 2016) and its ACNN attention masks (Sun, Ye, Wang).

The network is a stem, ``num_stacks`` stages and one loop (``StackedHourglass.forward``) that
reads like the ACNN paper's Fig. 3:

    hourglass   X + theta(X)                     the stage's hourglass (identity skips inside)
    features    f(.)                             residual + 1x1 conv-BN-ReLU       (Eq. 1)
    heatmaps    H_i                              1x1 conv to one map per joint
    mask        M_i = sigmoid(f_c(X + theta(X))) mask head, one channel           (Eq. 2)
    prediction  P_i = H_i + P_(i-1) * (1 - M_(i-1))                               (Eq. 4)
    next input  X_(i+1) = (X_i + merges) * M_i, M_i replicated over channels      (Eq. 1)

With ``attention=None`` every mask is the all-ones map, so P_i = H_i and the network is
exactly Newell et al.'s; with ``attention="acnn"`` stages 1..n-1 each emit a mask. The last
stage passes nothing on, so its entry in ``masks`` is all ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

ATTENTION_TYPES = (None, "acnn")
MASK_TYPES = ("soft", "hard")


class Residual(nn.Module):
    """Pre-activation bottleneck: (BN-ReLU-conv) 1x1, 3x3, 1x1, plus a 1x1 skip if widths differ."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = out_channels // 2
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, mid, 1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 1),
        )
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


def conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Hourglass(nn.Module):
    """An hourglass of the given depth: a skip branch plus
    (pool, residual, inner hourglass, residual, upsample)."""

    def __init__(self, depth: int, channels: int):
        super().__init__()
        self.skip = Residual(channels, channels)
        self.down = nn.Sequential(nn.MaxPool2d(2), Residual(channels, channels))
        self.inner = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.up = nn.Sequential(Residual(channels, channels), NearestUpsample())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.up(self.inner(self.down(x)))


class NearestUpsample(nn.Module):
    """2x nearest upsampling in its input's dtype (CUDA autocast runs upsampling in float32,
    which would promote the bf16 residual stream it is added to)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=2, mode="nearest").to(x.dtype)


class MaskHead(nn.Module):
    """f_c of ACNN Eq. 2: conv layers with BN and ReLU, then a 1-channel 1x1 conv and a sigmoid.

    The paper says only "convolution layers"; we use 1x1 (C -> C/4), 3x3 (C/4 -> C/4), 1x1 (-> 1),
    about 1/6 of a residual block's parameters. The paper's all-ones mask is the mask before stage
    1 and in phase A, not the heads' start, which it does not give. Ours (our choice): the last conv
    starts with small random weights, so that every layer of the head gets a gradient from the
    first step (a zero weight would block the hidden layers'), and a bias of +2 (sigmoid 0.88), so a
    new head starts close to the all-ones mask that phase A trained the network with while the
    sigmoid's slope (0.10) still lets it move.
    ``hard=True`` binarises at 0.5 in the forward pass and lets the gradient of the sigmoid through
    (straight-through estimator), since the paper calls the masks binary.
    """

    INITIAL_BIAS = 2.0
    INITIAL_WEIGHT_STD = 0.01

    def __init__(self, channels: int, hard: bool = False):
        super().__init__()
        hidden = max(channels // 4, 1)
        self.layers = nn.Sequential(
            conv_bn_relu(channels, hidden, 1),
            conv_bn_relu(hidden, hidden, 3),
            nn.Conv2d(hidden, 1, 1),
        )
        nn.init.normal_(self.layers[-1].weight, std=self.INITIAL_WEIGHT_STD)
        nn.init.constant_(self.layers[-1].bias, self.INITIAL_BIAS)
        self.hard = hard

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        soft = torch.sigmoid(self.layers(x))
        return _BinariseStraightThrough.apply(soft) if self.hard else soft


class _BinariseStraightThrough(torch.autograd.Function):
    """Forward: 1 where the mask is above 0.5, else 0. Backward: the gradient passes unchanged."""

    @staticmethod
    def forward(ctx, soft: torch.Tensor) -> torch.Tensor:
        return (soft > 0.5).to(soft.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


@dataclass
class HourglassOutput:
    """Per-stage outputs, lists of length ``num_stacks``.

    heatmaps[i]: H_i (B, K, h, w); masks[i]: M_i (B, 1, h, w), the mask stage i passes on;
    predictions[i]: P_i = H_i + P_(i-1) * (1 - M_(i-1)), the map that is supervised and decoded.
    """

    heatmaps: list[torch.Tensor]
    masks: list[torch.Tensor]
    predictions: list[torch.Tensor]


class StackedHourglass(nn.Module):
    """Stacked hourglass network, optionally with ACNN attention masks.

    Args:
        num_stacks: number of stages (4 in the ACNN paper, 8 in Newell et al.'s best model).
        features: channels of every stage (256 in both papers). The stem's widths scale with it
            (features/4 and features/2: 64 and 128 at 256, as in the reference implementation).
        num_joints: heatmaps per stage (16 for MPII).
        attention: None (plain hourglass) or "acnn".
        mask: "soft" (sigmoid values) or "hard" (binary with a straight-through gradient).
        depth: recursion depth of each hourglass (4: 64 -> 4 pixels at the bottom).
    """

    def __init__(
        self,
        num_stacks: int = 4,
        features: int = 256,
        num_joints: int = 16,
        attention: str | None = None,
        mask: str = "soft",
        depth: int = 4,
    ):
        super().__init__()
        for name, value in (
            ("num_stacks", num_stacks),
            ("features", features),
            ("num_joints", num_joints),
            ("depth", depth),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if features % 4:
            raise ValueError(f"features must be a multiple of 4, got {features}")
        if attention not in ATTENTION_TYPES:
            raise ValueError(f"attention must be one of {ATTENTION_TYPES}, got {attention!r}")
        if mask not in MASK_TYPES:
            raise ValueError(f"mask must be one of {MASK_TYPES}, got {mask!r}")
        self.num_stacks, self.num_joints, self.depth = num_stacks, num_joints, depth
        self.attention, self.mask_type = attention, mask
        #: When False, every mask is the all-ones map (ACNN phase A: "masks frozen at ones").
        self.masks_active = attention is not None
        #: Log the gradients at the masks and heatmaps (:meth:`tensor_gradient_rms`).
        self.log_tensor_gradients = attention is not None
        self._tensor_gradients: dict[str, list] = {}

        self.stem = nn.Sequential(
            conv_bn_relu(3, features // 4, 7, stride=2),
            Residual(features // 4, features // 2),
            nn.MaxPool2d(2),
            Residual(features // 2, features // 2),
            Residual(features // 2, features),
        )
        self.hourglasses = nn.ModuleList(Hourglass(depth, features) for _ in range(num_stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(features, features), conv_bn_relu(features, features, 1))
            for _ in range(num_stacks)
        )
        self.heatmap_heads = nn.ModuleList(
            nn.Conv2d(features, num_joints, 1) for _ in range(num_stacks)
        )
        self.merge_features = nn.ModuleList(
            nn.Conv2d(features, features, 1) for _ in range(num_stacks - 1)
        )
        self.merge_heatmaps = nn.ModuleList(
            nn.Conv2d(num_joints, features, 1) for _ in range(num_stacks - 1)
        )
        self.mask_heads = nn.ModuleList(
            MaskHead(features, hard=mask == "hard")
            for _ in range(num_stacks - 1)
            if attention == "acnn"
        )

    @property
    def stride(self) -> int:
        """Input pixels per heatmap pixel."""
        return 4

    @property
    def min_input_multiple(self) -> int:
        """Input sides must be multiples of this (stem stride times the hourglass's poolings)."""
        return self.stride * 2**self.depth

    def parameter_groups(self) -> dict[str, list[nn.Module]]:
        """The modules of ACNN's two tasks: "heatmap" (task A) and "mask" (task B)."""
        heatmap = [
            self.stem,
            self.hourglasses,
            self.features,
            self.heatmap_heads,
            self.merge_features,
            self.merge_heatmaps,
        ]
        return {"heatmap": heatmap, "mask": [self.mask_heads]}

    def module_parameter_counts(self) -> dict[str, int]:
        """Parameters per part of the network (they sum to the total)."""
        parts = {
            "stem": [self.stem],
            "hourglasses": [self.hourglasses],
            "features and heatmap heads": [self.features, self.heatmap_heads],
            "merges": [self.merge_features, self.merge_heatmaps],
            "mask heads": [self.mask_heads],
        }
        return {name: count_parameters(modules) for name, modules in parts.items()}

    def _log_gradient(self, name: str, tensor: torch.Tensor) -> None:
        """Accumulate the squared gradient that reaches ``tensor`` in the backward pass (on its
        device: nothing is read back here)."""
        if not tensor.requires_grad:
            return
        totals = self._tensor_gradients.setdefault(
            name, [tensor.new_zeros((), dtype=torch.float32), 0]
        )
        totals[1] += tensor.numel()

        def hook(grad: torch.Tensor) -> None:
            totals[0] += grad.detach().float().pow(2).sum()

        tensor.register_hook(hook)

    def tensor_gradient_squares(self) -> dict[str, tuple[torch.Tensor, int]]:
        """The summed squared gradients at the masks and heatmaps since the last call and their
        element counts, on the device (nothing is read back), and reset."""
        out = {name: (total, count) for name, (total, count) in self._tensor_gradients.items()}
        self._tensor_gradients = {}
        return out

    def tensor_gradient_rms(self) -> dict[str, float]:
        """RMS per element of the gradients that reached the masks M_i and the heatmaps H_i since
        the last call (ACNN's claim 3 is about these tensors: a mask is replicated over the
        channels it multiplies, so the gradients of all of them add up at each mask element),
        and reset. Empty for a tensor that got no gradient (the all-ones masks)."""
        return {
            name: float((total / max(count, 1)).sqrt())
            for name, (total, count) in self.tensor_gradient_squares().items()
        }

    def forward(self, images: torch.Tensor) -> HourglassOutput:
        multiple = self.min_input_multiple
        if images.shape[-1] % multiple or images.shape[-2] % multiple:
            raise ValueError(
                f"input height and width must be multiples of {multiple} (stride {self.stride} x "
                f"2^{self.depth} hourglass poolings), got {tuple(images.shape[-2:])}"
            )
        x = self.stem(images)
        heatmaps, masks, predictions = [], [], []
        previous_prediction = previous_mask = None
        for i in range(self.num_stacks):
            hourglass = self.hourglasses[i](x)
            feature = self.features[i](hourglass)
            heatmap = self.heatmap_heads[i](feature)
            is_last = i == self.num_stacks - 1
            if self.masks_active and not is_last:
                mask = self.mask_heads[i](hourglass)
            else:
                mask = heatmap.new_ones(()).expand(heatmap.shape[0], 1, *heatmap.shape[2:])
            if previous_prediction is None:
                prediction = heatmap
            else:
                prediction = heatmap + previous_prediction * (1.0 - previous_mask)
            if not is_last:
                x = (x + self.merge_features[i](feature) + self.merge_heatmaps[i](heatmap)) * mask
            if self.log_tensor_gradients and torch.is_grad_enabled():
                self._log_gradient("heatmap", heatmap)
                self._log_gradient("mask", mask)
            heatmaps.append(heatmap)
            masks.append(mask)
            predictions.append(prediction)
            previous_prediction, previous_mask = prediction, mask
        return HourglassOutput(heatmaps=heatmaps, masks=masks, predictions=predictions)


def count_parameters(module: nn.Module | list[nn.Module], trainable_only: bool = False) -> int:
    modules = module if isinstance(module, list) else [module]
    return sum(
        p.numel() for m in modules for p in m.parameters() if p.requires_grad or not trainable_only
    )
