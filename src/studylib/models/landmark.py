"""LandmarkNet: ResNet-18 with the ODN modules, plain (ODN) or attentioned (the face paper's ADM).

The face paper (Sadiq et al., IEEE Access 2019, "attention-adaptive ODN") extends ODN (Zhu et
al., CVPR 2019). What the paper says, and what it leaves open, decides most of this file; every
choice it leaves open is made in one place below and says so ("Paper: ... / Here: ...").

Architecture (variant ``"adm"``; ``"odn"`` swaps pathway-C, ``"resnet"`` replaces everything
after the trunk by global pooling and one linear layer)::

    image (B, 3, S, S)
      -> ResNet-18 trunk, output of layer4 F (B, C, h, w)        C = 8 width, h = w = S / stride
      -> geometry-aware module G(F) (B, Cg, h, w)                  two pathways, bilinear products
      -> distillation module D(F) = (1 - P(F)) * Z(F) (B, C, h, w)
             P: occlusion pathway, (B, 1, h, w) probability map
             Z: pathway-C; ODN: F + conv(F); ADM: F + CBAM(F) (Eq. 2-4)
      -> X = concat[G(F), D(F)], flattened to d = (Cg + C) h w numbers
      -> low-rank learning module: u = W_fc^T M^T X (Eq. 1), M is d x k
      -> normalised landmarks u in [-1, 1] (B, L, 2) -> input pixels

Coordinates: the network regresses normalised coordinates ``u`` (``-1`` is the left/top edge of
the input, ``+1`` the right/bottom edge); :class:`LandmarkOutput` also gives them in input pixels
in studylib's pixel-centre convention, ``x = (u + 1) / 2 * S - 0.5``
(:func:`normalized_to_pixels`, :func:`pixels_to_normalized`).

Loss (Eq. 1): ``(1/N) sum_i ||S_i - S^_i||_F^2 + alpha * ||M||_*`` (:meth:`LandmarkNet.loss`).
The squared error is summed over the 2L normalised coordinates of a face and averaged over the
batch; the paper's rank surrogate is not named, here it is the nuclear norm of M (the tightest
convex surrogate of the rank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from studylib.config import LOW_RANK_INPUTS
from studylib.models.attention import CBAM, AttentionMaps, check_reduction_ratio
from studylib.models.resnet import ResNet18, load_torchvision_weights

VARIANTS = ("resnet", "odn", "adm")

#: The groups of :meth:`LandmarkNet.module_parameter_counts`, in the order of the network.
MODULE_GROUPS = ("backbone", "geometry", "distillation", "low_rank", "head")


def normalized_to_pixels(normalized: Tensor, input_size: int) -> Tensor:
    """Normalised coordinates in [-1, 1] to input pixels (pixel-centre convention)."""
    return (normalized + 1.0) / 2.0 * input_size - 0.5


def pixels_to_normalized(pixels: Tensor, input_size: int) -> Tensor:
    """Input pixels (pixel-centre convention) to normalised coordinates in [-1, 1]."""
    return (pixels + 0.5) * 2.0 / input_size - 1.0


def regression_loss(predicted: Tensor, target: Tensor) -> Tensor:
    """Eq. 1's data term: squared error summed over a face's coordinates, averaged over faces.

    Both are (B, L, 2) in the same units (normalised coordinates for :class:`LandmarkNet`).
    """
    if predicted.shape != target.shape:
        raise ValueError(
            f"predicted and target landmarks must have the same shape, "
            f"got {tuple(predicted.shape)} and {tuple(target.shape)}"
        )
    return (predicted - target).pow(2).flatten(1).sum(dim=1).mean()


def parameter_count(module: nn.Module | None) -> int:
    """Number of parameters of ``module`` (0 for ``None``)."""
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class GeometryAwareModule(nn.Module):
    """Two pathways combined by bilinear (second-order) products: relations between facial parts.

    Paper: "two pathway subnetworks ... similar to quadratic kernel expansion" whose output is a
    feature map concatenated with the distillation module's; its Fig. 2 contrasts the module with
    a local receptive field: it should relate facial components that lie apart. The layers are not
    given.

    Here (factorised bilinear pooling, Kim et al. 2017, "Hadamard product for low-rank bilinear
    pooling"): two 1 x 1 conv-BN-ReLU projections ``a = A(F)`` and ``b = B(F)`` of ``projection``
    channels each, and two second-order terms:

    * local: ``a * b`` at each position. A linear layer on it computes ``a^T diag(w) b``, a rank-
      ``projection`` factorisation of the full outer product ``F F^T`` at that position (the
      quadratic kernel expansion) without its C^2 channels (262,144 at C = 512).
    * global relation: ``a * mean_hw(b)``: the feature at each position times a descriptor of the
      whole face, so every position is related to every other one (what a local receptive field
      cannot do) at the cost of one pooling.

    Both are concatenated and mixed by a 1 x 1 conv-BN-ReLU to ``out_channels``.
    """

    def __init__(self, in_channels: int, projection: int, out_channels: int) -> None:
        super().__init__()
        self.pathway_a = _conv_bn_relu(in_channels, projection, 1)
        self.pathway_b = _conv_bn_relu(in_channels, projection, 1)
        self.mix = _conv_bn_relu(2 * projection, out_channels, 1)

    def forward(self, features: Tensor) -> Tensor:
        a = self.pathway_a(features)
        b = self.pathway_b(features)
        local = a * b
        global_relation = a * b.mean(dim=(2, 3), keepdim=True)
        return self.mix(torch.cat([local, global_relation], dim=1))


class OcclusionPathway(nn.Module):
    """Infers the occlusion probability of each position of F: (B, 1, h, w), in (0, 1).

    Paper: the distillation module infers "the occlusion probability of each position in
    high-level features", learnt without occlusion labels, and uses it as "the adaptive weight on
    high-level features". Its layers are not given.

    Here: a 3 x 3 conv-BN-ReLU to ``hidden`` channels (a position's neighbourhood tells whether an
    occluder covers it), a 1 x 1 conv to one channel, a sigmoid. The same pathway in ODN and ADM,
    so that the variants differ in pathway-C only.
    """

    def __init__(self, in_channels: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _conv_bn_relu(in_channels, hidden, 3),
            nn.Conv2d(hidden, 1, 1),
            nn.Sigmoid(),
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.layers(features)


class ConvFeaturePathway(nn.Module):
    """ODN's pathway-C (the reconstruction used here): ``Z = F + ReLU(BN(conv3x3(F)))``.

    Paper: ODN's distillation module has two pathways; the face paper replaces the feature pathway
    by attention and reports that this *reduces* the parameter count (Fig. 13-14), so ODN's pathway
    held convolutions. Their number and size are not given.

    Here: one 3 x 3 convolution keeping the C channels, inside the same residual form as ADM's
    Eq. 2 (``Z = Z'' + F``), so the ODN/ADM comparison swaps only ``conv`` for ``CBAM``. With this
    reconstruction claim 10 (fewer parameters) holds by construction: 9 C^2 weights against CBAM's
    about 2 C^2 / r.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.transform = _conv_bn_relu(channels, channels, 3)

    def forward(self, features: Tensor) -> tuple[Tensor, AttentionMaps]:
        return features + self.transform(features), {}


class AttentionFeaturePathway(nn.Module):
    """ADM's pathway-C (the paper's Fig. 8, Eq. 2-4): ``Z = CBAM(F) + F``.

    ``CBAM`` applies the channel gate then the spatial gate by default (Eq. 3-4); the order and r
    are the ablations' knobs. With order ``"none"`` the pathway is ``Z = F``, the no-attention
    control: keeping the residual there would give ``Z = 2 F``, and the control's features would
    enter the flattened low-rank layer at twice the scale of the others', a difference that is
    not attention.
    """

    def __init__(self, attention: CBAM) -> None:
        super().__init__()
        self.attention = attention

    def forward(self, features: Tensor) -> tuple[Tensor, AttentionMaps]:
        if self.attention.order == "none":
            return features, {}
        attended, maps = self.attention.forward_with_maps(features)
        return attended + features, maps


class DistillationModule(nn.Module):
    """Occlusion-weighted features: ``D(F) = (1 - P(F)) * Z(F)``, (B, C, h, w).

    Paper: the occlusion probability "serves as the adaptive weight on high-level features to
    reduce the impact of occlusion". Weighting by the occlusion probability itself would *favour*
    occluded positions, so here the features are weighted by ``1 - P`` (the probability of being
    visible). The network can learn either (``1 - sigmoid(z) = sigmoid(-z)``); the choice only makes
    the map that is returned and plotted read as an occlusion probability (high on occluders).
    Both pathways read F (the paper's "two sub-pathway networks"; Fig. 8's wiring is not in the
    text).
    """

    def __init__(self, feature_pathway: nn.Module, occlusion_pathway: OcclusionPathway) -> None:
        super().__init__()
        self.feature_pathway = feature_pathway
        self.occlusion_pathway = occlusion_pathway

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor, AttentionMaps]:
        """Distilled features, the occlusion map (B, 1, h, w), and pathway-C's attention maps."""
        refined, maps = self.feature_pathway(features)
        occlusion = self.occlusion_pathway(features)
        return (1.0 - occlusion) * refined, occlusion, maps


class LowRankRegression(nn.Module):
    """The low-rank learning module: ``S = W_fc^T M^T X`` (the paper's Eq. 1).

    Paper: X is "the output of the geometry-aware module and the attentioned distillation module
    as feature map", M a matrix whose rank is penalised, W_fc a fully connected layer. It does not
    say how M meets a spatial map, nor its rank k.

    Here: X is flattened (channels x positions, d numbers), so M (d x k) can relate features at
    different positions (the "inter-feature correlation" used to recover occluded parts); pooling
    first would drop the layout that locates the landmarks. ``projection`` is a bias-free linear
    layer whose weight is ``M^T`` (k x d); ``fc`` is W_fc (k -> 2L, with a bias, as a fully
    connected layer has). No nonlinearity between them, as in Eq. 1.
    """

    def __init__(self, in_features: int, rank: int, out_features: int) -> None:
        super().__init__()
        self.projection = nn.Linear(in_features, rank, bias=False)
        self.fc = nn.Linear(rank, out_features)

    @property
    def M(self) -> Tensor:  # noqa: N802 (the paper's name)
        """The d x k projection matrix M of Eq. 1."""
        return self.projection.weight.T

    #: Newton-Schulz steps of :meth:`nuclear_norm` off the CPU: enough to converge for every
    #: eigenvalue of the normalised Gram matrix above ``POLAR_FLOOR`` (the slowest converge
    #: geometrically, by a factor of 1.5 per step, before the quadratic phase).
    POLAR_STEPS = 45
    #: Added to the normalised Gram matrix's diagonal: keeps it positive definite against
    #: rounding, so the iteration cannot diverge; directions with singular values below
    #: sqrt(floor) of the largest count less (never more) than their singular value.
    POLAR_FLOOR = 1e-12

    def nuclear_norm(self) -> Tensor:
        """||M||_*: the sum of M's singular values (the convex surrogate of its rank).

        On the CPU, from LAPACK's SVD of the tall d x k matrix M rather than of the layer's
        k x d weight (same value; the tall form is several times faster there). Elsewhere
        (CUDA) without an SVD, whose cost and status check (a host sync) every step would pay
        for: ||M||_* = <M, U V^T>, and the polar factor U V^T = M (M^T M)^(-1/2) comes from
        Newton-Schulz iterations on the k x k Gram matrix, matrix products only, in float64 (so
        TF32 cannot touch it and rounding stays far below the floor). The factor is a constant
        to autograd, so the gradient is U V^T, the nuclear norm's own. The two paths agree to
        rounding on well-conditioned M; the CPU keeps LAPACK so that its runs stay bit for bit
        what they were.
        """
        m = self.M
        if m.device.type == "cpu":
            return torch.linalg.matrix_norm(m, "nuc")
        return self.nuclear_norm_polar(m)

    @classmethod
    def nuclear_norm_polar(cls, m: Tensor) -> Tensor:
        """||m||_* from the polar factor (the path :meth:`nuclear_norm` takes off the CPU)."""
        with torch.no_grad():
            a = m.detach().double()
            gram = a.T @ a
            scale = torch.linalg.matrix_norm(gram).clamp_min(torch.finfo(gram.dtype).tiny)
            eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
            y, z = gram / scale + cls.POLAR_FLOOR * eye, eye
            for _ in range(cls.POLAR_STEPS):  # y -> (G/s)^(1/2), z -> (G/s)^(-1/2)
                t = 1.5 * eye - 0.5 * (z @ y)
                y, z = y @ t, t @ z
            polar = (a @ z / scale.sqrt()).to(m.dtype)
        return (m * polar).sum()

    def forward(self, features: Tensor) -> Tensor:
        return self.fc(self.projection(features.flatten(1)))


class PooledRegression(nn.Module):
    """The ResNet-18 baseline's head: global average pooling and one linear layer (C -> 2L)."""

    def __init__(self, in_channels: int, out_features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, out_features)

    def forward(self, features: Tensor) -> Tensor:
        return self.fc(features.mean(dim=(2, 3)))


@dataclass
class LandmarkOutput:
    """What :class:`LandmarkNet` computed for a batch.

    Attributes:
        landmarks: (B, L, 2) (x, y) in input pixels, pixel-centre convention.
        normalized: (B, L, 2) the regressed coordinates, -1/+1 at the input's edges.
        occlusion: (B, 1, h, w) occlusion probability of the distillation module, or None.
        channel_attention: (B, C, 1, 1) channel gate of the ADM, or None.
        spatial_attention: (B, 1, h, w) spatial gate of the ADM, or None.
    """

    landmarks: Tensor
    normalized: Tensor
    occlusion: Tensor | None = None
    channel_attention: Tensor | None = None
    spatial_attention: Tensor | None = None


class LandmarkNet(nn.Module):
    """Facial landmark regression: ResNet-18, ODN or the attention-adaptive ODN.

    Args:
        num_landmarks: L (68 for 300-W).
        attention_order: the ADM's CBAM order, one of :attr:`CBAM.ORDERS` (the paper's best and
            default: ``"channel-spatial"``).
        reduction_ratio: r of the ADM's channel gate (the paper's best: 8).
        variant: ``"resnet"`` (trunk + pooled linear head), ``"odn"`` (geometry + plain
            distillation + low-rank modules) or ``"adm"`` (geometry + attentioned distillation +
            low-rank modules). ``attention_order``, ``reduction_ratio`` and the attention options
            are validated for every variant (a typo never passes silently) but used by ``"adm"``.
        width: the trunk's first-stage channels (64 = ResNet-18).
        input_size: S, the side of the square input; a multiple of the trunk's total stride,
            because the low-rank module's size depends on the feature map's.
        rank: k, the columns of M. Paper: not given. Here: 128 (below 2L = 136 for 68 points, so
            W_fc^T M^T is itself rank-limited; the nuclear norm pushes the used rank lower).
        alpha: weight of ||M||_* in :meth:`loss`. Paper: not given. Here: 1e-4. At initialisation
            ||M||_* is about 0.58 k whatever d (74 for k = 128), so the term starts near 0.007:
            negligible against an untrained net's squared error (20 to 45 for 68 points at width
            64), about a tenth of a trained one's (0.05 for a 0.02 error per coordinate).
        layer4_stride: stride of the trunk's last stage. Paper: "we modify the last residual
            block of ResNet-18. Feature map from last residual block is fed into" the modules, with
            224 x 224 inputs. "Modify" could also mean that the modules replace that block; here
            the whole trunk is kept (so torchvision's weights load whole) and layer4's output F
            feeds the modules: 7 x 7 maps with stride 2 (the default); 1 gives 14 x 14 maps (M
            four times larger).
        geometry_channels: channels of the geometry-aware module's projections and output.
            Paper: not given. Here: C / 2 (256 at width 64).
        occlusion_channels: hidden channels of the occlusion pathway. Paper: not given. Here: C / 4.
        spatial_kernel_size: k of the spatial gate (CBAM: 7).
        channel_pooling: the channel gate's poolings; ``("avg",)`` is the ODN-style gate of claim 9.
        pretrained_backbone: a local torchvision ResNet-18 state dict to start the trunk from
            (width 64 only); ``None`` (default) trains from scratch. The paper pre-trains on
            ImageNet.
        low_rank_input: how the flattened X enters the low-rank module: ``"sum"`` (default) as
            Eq. 1 writes it, ``M^T X``; ``"mean"`` divided by the h x w positions of the feature
            map, ``M^T X / (h w)``: the same functions, trained differently
            (:func:`studylib.face.build_model` says why the study uses it).
    """

    def __init__(
        self,
        num_landmarks: int,
        attention_order: str = "channel-spatial",
        reduction_ratio: int = 8,
        variant: str = "adm",
        width: int = 64,
        input_size: int = 224,
        rank: int = 128,
        alpha: float = 1e-4,
        layer4_stride: int = 2,
        geometry_channels: int | None = None,
        occlusion_channels: int | None = None,
        spatial_kernel_size: int = 7,
        channel_pooling: Sequence[str] = ("avg", "max"),
        pretrained_backbone: str | Path | None = None,
        low_rank_input: str = "sum",
    ) -> None:
        super().__init__()
        if low_rank_input not in LOW_RANK_INPUTS:
            raise ValueError(
                f"unknown low_rank_input {low_rank_input!r}; valid values are {LOW_RANK_INPUTS}"
            )
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; valid variants are {VARIANTS}")
        if attention_order not in CBAM.ORDERS:
            raise ValueError(
                f"unknown attention_order {attention_order!r}; valid orders are {CBAM.ORDERS}"
            )
        _check_positive_int("num_landmarks", num_landmarks)
        _check_positive_int("input_size", input_size)
        _check_positive_int("rank", rank)
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got alpha={alpha!r}")
        self.backbone = ResNet18(width=width, num_classes=None, layer4_stride=layer4_stride)
        channels = self.backbone.out_channels
        check_reduction_ratio(reduction_ratio, channels)
        stride = self.backbone.total_stride
        if input_size % stride != 0:
            raise ValueError(
                f"input_size={input_size} is not divisible by the trunk's total stride {stride} "
                f"(layer4_stride={layer4_stride}); use a multiple of {stride}"
            )
        geometry_channels = channels // 2 if geometry_channels is None else geometry_channels
        occlusion_channels = channels // 4 if occlusion_channels is None else occlusion_channels
        _check_positive_int("geometry_channels", geometry_channels)
        _check_positive_int("occlusion_channels", occlusion_channels)

        self.num_landmarks = num_landmarks
        self.variant = variant
        self.attention_order = attention_order
        self.reduction_ratio = reduction_ratio
        self.input_size = input_size
        self.feature_size = input_size // stride
        self.alpha = float(alpha)
        self.low_rank_input = low_rank_input
        outputs = 2 * num_landmarks

        self.geometry: GeometryAwareModule | None = None
        self.distillation: DistillationModule | None = None
        self.low_rank: LowRankRegression | None = None
        self.head: PooledRegression | None = None
        if variant == "resnet":
            self.head = PooledRegression(channels, outputs)
            self._regress = self._regress_pooled
        else:
            if variant == "adm":
                attention = CBAM(
                    channels,
                    reduction_ratio,
                    order=attention_order,
                    kernel_size=spatial_kernel_size,
                    pooling=channel_pooling,
                )
                feature_pathway: nn.Module = AttentionFeaturePathway(attention)
            else:
                feature_pathway = ConvFeaturePathway(channels)
            self.geometry = GeometryAwareModule(channels, geometry_channels, geometry_channels)
            self.distillation = DistillationModule(
                feature_pathway, OcclusionPathway(channels, occlusion_channels)
            )
            flattened = (geometry_channels + channels) * self.feature_size**2
            self.low_rank = LowRankRegression(flattened, rank, outputs)
            self._regress = self._regress_occlusion_adaptive
        if pretrained_backbone is not None:
            load_torchvision_weights(self.backbone, pretrained_backbone)

    def forward(self, images: Tensor) -> LandmarkOutput:
        expected = (self.input_size, self.input_size)
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != expected:
            raise ValueError(
                f"expected images of shape (B, 3, {self.input_size}, {self.input_size}), "
                f"got {tuple(images.shape)}"
            )
        features = self.backbone.forward_features(images)
        coordinates, occlusion, maps = self._regress(features)
        normalized = coordinates.view(-1, self.num_landmarks, 2)
        return LandmarkOutput(
            landmarks=normalized_to_pixels(normalized, self.input_size),
            normalized=normalized,
            occlusion=occlusion,
            channel_attention=maps.get("channel"),
            spatial_attention=maps.get("spatial"),
        )

    def _regress_pooled(self, features: Tensor) -> tuple[Tensor, None, AttentionMaps]:
        return self.head(features), None, {}

    def _regress_occlusion_adaptive(self, features: Tensor) -> tuple[Tensor, Tensor, AttentionMaps]:
        geometry = self.geometry(features)
        distilled, occlusion, maps = self.distillation(features)
        combined = torch.cat([geometry, distilled], dim=1)
        # The regression head in float32 under CUDA autocast: bf16 would round the landmarks.
        with torch.autocast("cuda", enabled=False):
            flattened = combined.float()
            if self.low_rank_input == "mean":
                flattened = flattened / self.feature_size**2
            return self.low_rank(flattened), occlusion, maps

    def rank_penalty(self) -> Tensor:
        """||M||_* of the low-rank module (a zero tensor for ``"resnet"``, which has no M)."""
        if self.low_rank is None:
            return self.head.fc.weight.new_zeros(())
        return self.low_rank.nuclear_norm()

    def loss(self, output: LandmarkOutput, target_normalized: Tensor) -> Tensor:
        """Eq. 1: :func:`regression_loss` in normalised coordinates + ``alpha`` x ||M||_*.

        ``target_normalized`` is (B, L, 2) in the network's normalised coordinates (convert
        pixels with :func:`pixels_to_normalized`). The rank term is skipped when alpha is 0 (no
        singular value decomposition).
        """
        data_term = regression_loss(output.normalized.float(), target_normalized.float())
        if self.alpha == 0.0:
            return data_term
        return data_term + self.alpha * self.rank_penalty()

    def module_parameter_counts(self) -> dict[str, int]:
        """Parameters per module (keys :data:`MODULE_GROUPS`, 0 where absent); they sum to all."""
        return {
            "backbone": parameter_count(self.backbone),
            "geometry": parameter_count(self.geometry),
            "distillation": parameter_count(self.distillation),
            "low_rank": parameter_count(self.low_rank),
            "head": parameter_count(self.head),
        }


def variant_parameter_counts(num_landmarks: int = 68, **kwargs) -> dict[str, dict[str, int]]:
    """Per-module parameter counts of every variant built with the same arguments (claim 10).

    Each entry also has ``"total"``. Example: ``variant_parameter_counts(68, width=64)``.
    """
    counts = {}
    for variant in VARIANTS:
        model = LandmarkNet(num_landmarks, variant=variant, **kwargs)
        per_module = model.module_parameter_counts()
        counts[variant] = {**per_module, "total": sum(per_module.values())}
    return counts


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {name}={value!r}")
