# cascade-rcnn_r50_fpn_20e_coco on ResNeXt-101 64x4d, as MMDetection's
# cascade-rcnn_x101_64x4d_fpn_20e_coco.
_base_ = ["./cascade-rcnn_r50_fpn_20e_coco.py"]

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
