"""CBAM parts: a channel gate, a spatial gate, and the module that composes them.

The face paper (Sadiq et al., "attention-adaptive ODN") puts CBAM-style attention (Woo et al.,
ECCV 2018) into pathway-C of the distillation module:

* channel attention, Eq. 3: ``Z' = Mc ⊗ F`` with ``Mc = σ(MLP(AvgPool(F)) + MLP(MaxPool(F)))``,
  one MLP with one hidden layer of ``C / r`` units shared by both descriptors;
* spatial attention, Eq. 4: ``Z'' = Ms ⊗ Z'`` with ``Ms = σ(conv([mean_c(Z'); max_c(Z')]))``.

Following *Jongchan/attention-module* ``MODELS/cbam.py``, each gate is a small module with a
``gate(x)`` method (the map) and a ``forward(x)`` that returns ``x * gate(x)``; :class:`CBAM`
composes them in one place. The composition is chosen once, in ``CBAM.__init__``; ``forward``
does no string handling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


def _spatial_mean(x: Tensor) -> Tensor:
    return x.mean(dim=(2, 3))


def _spatial_max(x: Tensor) -> Tensor:
    return x.amax(dim=(2, 3))


#: The spatial poolings the channel gate can use to describe each channel by one number.
CHANNEL_POOLINGS: dict[str, Callable[[Tensor], Tensor]] = {
    "avg": _spatial_mean,
    "max": _spatial_max,
}


def check_reduction_ratio(reduction_ratio: object, channels: int) -> int:
    """Return ``reduction_ratio`` if it is a usable reduction ratio for ``channels``.

    The hidden layer of the channel gate has ``channels // reduction_ratio`` units, so the ratio
    must be a positive integer that divides ``channels``. Otherwise a ValueError names the ratio,
    its value and ``channels``.
    """
    if isinstance(reduction_ratio, bool) or not isinstance(reduction_ratio, int):
        raise ValueError(
            f"reduction_ratio must be an int, got {reduction_ratio!r} "
            f"({type(reduction_ratio).__name__}) for channels={channels}"
        )
    if reduction_ratio < 1:
        raise ValueError(
            f"reduction_ratio must be >= 1, got reduction_ratio={reduction_ratio} "
            f"for channels={channels}"
        )
    if channels % reduction_ratio != 0:
        raise ValueError(
            f"reduction_ratio={reduction_ratio} does not divide channels={channels}; "
            f"the channel MLP's hidden layer needs channels / reduction_ratio units"
        )
    return reduction_ratio


class ChannelAttention(nn.Module):
    """Channel gate ``Mc`` (B, C, 1, 1): "what" to attend to (the face paper's Eq. 3).

    Each channel is described by its spatial average and/or maximum; every descriptor goes through
    one shared MLP ``C -> C/r -> C`` (ReLU between), the outputs are summed and squashed by a
    sigmoid. ``pooling=("avg",)`` is the ODN-style gate the paper improves on by adding
    max-pooling (claim 9).

    Args:
        channels: C, the number of feature channels.
        reduction_ratio: r; the MLP's hidden layer has C / r units.
        pooling: a non-empty subset of ``("avg", "max")``, without repeats.
    """

    def __init__(
        self, channels: int, reduction_ratio: int, pooling: Sequence[str] = ("avg", "max")
    ) -> None:
        super().__init__()
        check_reduction_ratio(reduction_ratio, channels)
        pooling = tuple(pooling)
        unknown = [name for name in pooling if name not in CHANNEL_POOLINGS]
        if not pooling or unknown or len(set(pooling)) != len(pooling):
            raise ValueError(
                f"pooling must be a non-empty subset of {tuple(CHANNEL_POOLINGS)} without repeats, "
                f"got {pooling!r}"
            )
        self.channels = channels
        self.reduction_ratio = reduction_ratio
        self.pooling = pooling
        self._pools = tuple(CHANNEL_POOLINGS[name] for name in pooling)
        hidden = channels // reduction_ratio
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
        )

    def gate(self, x: Tensor) -> Tensor:
        """The channel attention map Mc(x), shaped (B, C, 1, 1), values in (0, 1)."""
        descriptors = torch.stack([pool(x) for pool in self._pools])  # (P, B, C)
        logits = self.mlp(descriptors).sum(dim=0)
        return torch.sigmoid(logits)[:, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, reduction_ratio={self.reduction_ratio}, "
            f"pooling={self.pooling}"
        )


class SpatialAttention(nn.Module):
    """Spatial gate ``Ms`` (B, 1, H, W): "where" to attend (the face paper's Eq. 4).

    The channel-wise mean and maximum at each position are stacked into a (B, 2, H, W) descriptor,
    convolved by one k x k filter (padding k // 2, so the map keeps its size) and squashed by a
    sigmoid.

    Batch normalisation: CBAM's reference code (``BasicConv`` in ``MODELS/cbam.py``) puts a
    BatchNorm2d between this convolution and the sigmoid; neither the CBAM paper's equation nor the
    face paper mentions it. We leave it out by default (``batch_norm=False``; the convolution then
    has a bias), so that the gate of one image does not depend on the other images of its batch in
    training mode (which would make the attention maps we plot batch-dependent, and noisy with the
    small batches of the CPU profiles). ``batch_norm=True`` restores the reference code's layer.

    Args:
        kernel_size: k, a positive odd integer (7 in CBAM and here).
        batch_norm: put a BatchNorm2d on the gate's logits, as CBAM's code does.
    """

    def __init__(self, kernel_size: int = 7, batch_norm: bool = False) -> None:
        super().__init__()
        if (
            isinstance(kernel_size, bool)
            or not isinstance(kernel_size, int)
            or kernel_size < 1
            or kernel_size % 2 == 0
        ):
            raise ValueError(
                f"kernel_size must be a positive odd int (so that the gate keeps the feature map's "
                f"size with padding kernel_size // 2), got kernel_size={kernel_size!r}"
            )
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
        self.bn = nn.BatchNorm2d(1) if batch_norm else nn.Identity()

    def gate(self, x: Tensor) -> Tensor:
        """The spatial attention map Ms(x), shaped (B, 1, H, W), values in (0, 1)."""
        descriptor = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.bn(self.conv(descriptor)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)


AttentionMaps = dict[str, Tensor]


class CBAM(nn.Module):
    """Channel and spatial gates composed in one of six orders (the order ablation, claim 8).

    ========================  ==================================================================
    ``order``                 output
    ========================  ==================================================================
    ``"channel-spatial"``     ``spatial(channel(x))`` (CBAM's and the face paper's order, Eq. 3-4)
    ``"spatial-channel"``     ``channel(spatial(x))``
    ``"parallel"``            ``x * Mc(x) * Ms(x)``: both gates are computed from the same input
                              ``x`` and applied together (no gate sees the other's output)
    ``"channel"``             ``channel(x)``
    ``"spatial"``             ``spatial(x)``
    ``"none"``                ``x`` (identity; the no-attention control)
    ========================  ==================================================================

    The attributes ``.channel`` and ``.spatial`` always exist, but hold a gate only when the order
    uses it (``None`` otherwise): a gate that is never applied would add parameters that receive
    no gradient and would inflate the parameter counts of the cost comparison (claim 10). Two
    orders that use the same gates (the first three) have identical parameter counts.

    Args:
        channels: C of the input features.
        reduction_ratio: r of the channel gate; checked for every order, so a bad value never
            passes silently.
        order: one of :attr:`ORDERS`.
        kernel_size: k of the spatial gate.
        pooling: the channel gate's poolings (see :class:`ChannelAttention`).
        spatial_batch_norm: see :class:`SpatialAttention`.
    """

    ORDERS = ("channel-spatial", "spatial-channel", "parallel", "channel", "spatial", "none")

    def __init__(
        self,
        channels: int,
        reduction_ratio: int,
        order: str = "channel-spatial",
        kernel_size: int = 7,
        pooling: Sequence[str] = ("avg", "max"),
        spatial_batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if order not in self.ORDERS:
            raise ValueError(f"unknown attention order {order!r}; valid orders are {self.ORDERS}")
        check_reduction_ratio(reduction_ratio, channels)
        self.order = order
        compositions = {
            "channel-spatial": (self._channel_then_spatial, True, True),
            "spatial-channel": (self._spatial_then_channel, True, True),
            "parallel": (self._parallel, True, True),
            "channel": (self._channel_only, True, False),
            "spatial": (self._spatial_only, False, True),
            "none": (self._identity, False, False),
        }
        self._attend, uses_channel, uses_spatial = compositions[order]
        self.channel = (
            ChannelAttention(channels, reduction_ratio, pooling) if uses_channel else None
        )
        self.spatial = SpatialAttention(kernel_size, spatial_batch_norm) if uses_spatial else None

    def forward(self, x: Tensor) -> Tensor:
        return self._attend(x)[0]

    def forward_with_maps(self, x: Tensor) -> tuple[Tensor, AttentionMaps]:
        """The output and the gates computed on the way, keyed ``"channel"`` / ``"spatial"``."""
        return self._attend(x)

    def attention_maps(self, x: Tensor) -> AttentionMaps:
        """The gates computed along the chosen order (for figures); empty for ``"none"``.

        ``"channel"`` is (B, C, 1, 1) and ``"spatial"`` is (B, 1, H, W). In ``"channel-spatial"``
        the spatial gate is computed from the channel-gated features, in ``"spatial-channel"`` the
        channel gate from the spatially gated ones, in ``"parallel"`` both from ``x``.
        """
        return self._attend(x)[1]

    def _channel_then_spatial(self, x: Tensor) -> tuple[Tensor, AttentionMaps]:
        channel_gate = self.channel.gate(x)
        refined = x * channel_gate
        spatial_gate = self.spatial.gate(refined)
        return refined * spatial_gate, {"channel": channel_gate, "spatial": spatial_gate}

    def _spatial_then_channel(self, x: Tensor) -> tuple[Tensor, AttentionMaps]:
        spatial_gate = self.spatial.gate(x)
        refined = x * spatial_gate
        channel_gate = self.channel.gate(refined)
        return refined * channel_gate, {"channel": channel_gate, "spatial": spatial_gate}

    def _parallel(self, x: Tensor) -> tuple[Tensor, AttentionMaps]:
        channel_gate = self.channel.gate(x)
        spatial_gate = self.spatial.gate(x)
        return x * channel_gate * spatial_gate, {"channel": channel_gate, "spatial": spatial_gate}

    def _channel_only(self, x: Tensor) -> tuple[Tensor, AttentionMaps]:
        channel_gate = self.channel.gate(x)
        return x * channel_gate, {"channel": channel_gate}

    def _spatial_only(self, x: Tensor) -> tuple[Tensor, AttentionMaps]:
        spatial_gate = self.spatial.gate(x)
        return x * spatial_gate, {"spatial": spatial_gate}

    def _identity(self, x: Tensor) -> tuple[Tensor, AttentionMaps]:
        return x, {}

    def extra_repr(self) -> str:
        return f"order={self.order!r}"
