"""Backbones shared by every OpenLab codebase, registered in labcore's MODELS."""

from labcore.models.backbones.convnext import ConvNeXt
from labcore.models.backbones.cspnext import CSPNeXt
from labcore.models.backbones.hrnet import HRNet
from labcore.models.backbones.mit import MixVisionTransformer
from labcore.models.backbones.mobilenet_v2 import MobileNetV2
from labcore.models.backbones.resnet import ResNet, ResNetV1c, ResNetV1d
from labcore.models.backbones.resnext import ResNeXt
from labcore.models.backbones.vision_transformer import VisionTransformer

__all__ = [
    "CSPNeXt",
    "ConvNeXt",
    "HRNet",
    "MixVisionTransformer",
    "MobileNetV2",
    "ResNeXt",
    "ResNet",
    "ResNetV1c",
    "ResNetV1d",
    "VisionTransformer",
]
