"""The registered detectors: each a one- or two-stage skeleton whose parts come from its config."""

from __future__ import annotations

from labdet.models.detectors.base import SingleStageDetector, TwoStageDetector
from labdet.registry import MODELS


@MODELS.register_module()
class RetinaNet(SingleStageDetector):
    """RetinaNet (Lin et al., ICCV 2017): ResNet-FPN with a RetinaHead trained by focal loss."""


@MODELS.register_module()
class FCOS(SingleStageDetector):
    """FCOS (Tian et al., ICCV 2019): anchor-free ResNet-FPN detector with an FCOSHead."""


@MODELS.register_module()
class ATSS(SingleStageDetector):
    """ATSS (Zhang et al., CVPR 2020): ResNet-FPN with an ATSSHead (adaptive training sample
    selection)."""


@MODELS.register_module()
class GFL(SingleStageDetector):
    """GFL (Li et al., NeurIPS 2020): ResNet-FPN with a GFLHead (quality and distribution
    focal losses, integral box regression)."""


@MODELS.register_module()
class FasterRCNN(TwoStageDetector):
    """Faster R-CNN (Ren et al., NeurIPS 2015): RPN proposals refined by a box RoI head."""


@MODELS.register_module()
class MaskRCNN(TwoStageDetector):
    """Mask R-CNN (He et al., ICCV 2017): Faster R-CNN plus a mask branch in the RoI head."""


@MODELS.register_module()
class CascadeRCNN(TwoStageDetector):
    """Cascade R-CNN (Cai and Vasconcelos, CVPR 2018): RPN proposals refined by a
    CascadeRoIHead; with mask branches in its stages, Cascade Mask R-CNN."""


@MODELS.register_module()
class RTMDet(SingleStageDetector):
    """RTMDet (Lyu et al., 2022): CSPNeXt backbone, CSPNeXtPAFPN neck and an RTMDetSepBNHead
    trained with dynamic soft-label assignment."""
