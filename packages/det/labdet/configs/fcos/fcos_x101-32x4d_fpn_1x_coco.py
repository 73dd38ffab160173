_base_ = ["./fcos_r50_fpn_1x_coco.py"]

model = dict(
    backbone=dict(
        type="ResNeXt",
        depth=101,
        groups=32,
        width_per_group=4,
        # the ImageNet weights MMDetection uses (OpenMMLab's ResNeXt-101 32x4d)
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="open-mmlab://resnext101_32x4d"),
    )
)
