"""Models: the stacked hourglass with ACNN masks (pose) and the attention-adaptive ODN (faces)."""

from studylib.models.attention import CBAM, ChannelAttention, SpatialAttention
from studylib.models.hourglass import HourglassOutput, StackedHourglass, count_parameters
from studylib.models.landmark import LandmarkNet, LandmarkOutput
from studylib.models.resnet import ResNet18, load_torchvision_weights

__all__ = [
    "CBAM",
    "ChannelAttention",
    "HourglassOutput",
    "LandmarkNet",
    "LandmarkOutput",
    "ResNet18",
    "SpatialAttention",
    "StackedHourglass",
    "count_parameters",
    "load_torchvision_weights",
]
