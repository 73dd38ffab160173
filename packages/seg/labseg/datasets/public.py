"""The public semantic segmentation benchmarks, in their published folder layouts."""

from __future__ import annotations

from labseg.datasets.class_names import ADE20K_CLASSES, CITYSCAPES_CLASSES, VOC_CLASSES
from labseg.datasets.seg_dataset import SegDataset
from labseg.registry import DATASETS


@DATASETS.register_module()
class ADE20KDataset(SegDataset):
    """ADE20K SceneParsing (ADEChallengeData2016): ``images/{training,validation}/*.jpg``
    and ``annotations/{training,validation}/*.png`` with values 0..150, where 0 ("other")
    is ignored and 1..150 are the 150 classes (``reduce_zero_label=True``).

    Arguments as :class:`SegDataset`.
    """

    default_classes = ADE20K_CLASSES
    default_reduce_zero_label = True


@DATASETS.register_module()
class CityscapesDataset(SegDataset):
    """Cityscapes fine annotations: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` and
    ``gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`` (train ids 0..18, 255 ignored;
    made from the ``*_labelIds.png`` files by cityscapesscripts' ``createTrainIdLabelImgs``).

    Arguments as :class:`SegDataset`.
    """

    default_classes = CITYSCAPES_CLASSES
    default_img_suffix = "_leftImg8bit.png"
    default_seg_map_suffix = "_gtFine_labelTrainIds.png"


@DATASETS.register_module()
class PascalVOCDataset(SegDataset):
    """Pascal VOC 2012: ``JPEGImages/*.jpg`` and label maps ``SegmentationClass/*.png``
    (palette PNGs, 255 on object borders), or ``SegmentationClassAug`` for the augmented
    set of Hariharan et al.; ``ann_file`` lists image names, and a list of list files
    (``['ImageSets/Segmentation/train.txt', 'ImageSets/Segmentation/aug.txt']``) is their
    concatenation: VOC12-aug's 10,582 training images.

    Arguments as :class:`SegDataset`.
    """

    default_classes = VOC_CLASSES
