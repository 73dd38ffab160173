# cascade-mask-rcnn_r50_fpn_ms-3x_coco on ResNeXt-101 32x4d, as MMDetection's
# cascade-mask-rcnn_x101-32x4d_fpn_ms-3x_coco.
_base_ = ["./cascade-mask-rcnn_r50_fpn_ms-3x_coco.py"]

model = dict(
    backbone=dict(
        type="ResNeXt",
        depth=101,
        groups=32,
        width_per_group=4,
        # the ImageNet weights MMDetection uses
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="open-mmlab://resnext101_32x4d"),
    )
)
