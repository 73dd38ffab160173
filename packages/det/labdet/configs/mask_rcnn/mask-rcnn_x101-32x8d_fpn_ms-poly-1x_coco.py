# mask-rcnn_r101_fpn_1x_coco on ResNeXt-101 32x8d, as MMDetection's
# mask-rcnn_x101-32x8d_fpn_ms-poly-1x_coco.
# MMDetection trains it on multi-scale inputs (shorter side one of 640, 672, ..., 800),
# for which labdet has no transform: this config trains at 800 and tests as MMDetection
# does (1333x800).

_base_ = ["./mask-rcnn_r101_fpn_1x_coco.py"]

model = dict(
    # Detectron2's Caffe2-trained ResNeXt-101 32x8d takes BGR images with its statistics:
    # the loaded RGB images are flipped to BGR (bgr_to_rgb flips the channel order).
    data_preprocessor=dict(
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=True,
    ),
    backbone=dict(
        type="ResNeXt",
        depth=101,
        groups=32,
        width_per_group=8,
        # the ImageNet weights MMDetection uses
        init_cfg=dict(
            _delete_=True, type="Pretrained", checkpoint="open-mmlab://detectron2/resnext101_32x8d"
        ),
    ),
)
