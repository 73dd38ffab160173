# upernet_r50_4xb2-40k_cityscapes-769x769 on ResNet-101-V1c, as MMSegmentation's
# upernet_r101_4xb2-40k_cityscapes-769x769.
_base_ = ["./upernet_r50_4xb2-40k_cityscapes-769x769.py"]

model = dict(
    backbone=dict(
        depth=101,
        # OpenMMLab's ImageNet ResNet-101-V1c, to be imported into the model zoo
        init_cfg=dict(checkpoint="zoo://resnet101-v1c_in1k"),
    )
)
