_base_ = ["./fcos_r50_fpn_1x_coco.py"]

model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet18_8xb32_in1k", prefix="backbone."
        ),
    ),
    neck=dict(in_channels=[128, 256, 512]),
)
