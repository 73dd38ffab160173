# mask-rcnn_r50_fpn_ms-poly-3x_coco on ResNeXt-101 64x4d, as MMDetection's
# mask-rcnn_x101-64x4d_fpn_ms-poly_3x_coco.
_base_ = ["./mask-rcnn_r50_fpn_ms-poly-3x_coco.py"]

model = dict(
    backbone=dict(
        type="ResNeXt",
        depth=101,
        groups=64,
        width_per_group=4,
        # the ImageNet weights MMDetection uses
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="open-mmlab://resnext101_64x4d"),
    )
)
