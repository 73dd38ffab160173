# fcn-d6_r50-d16_4xb2-40k_cityscapes-512x1024 on ResNet-101-V1c, as MMSegmentation's
# fcn-d6_r101-d16_4xb2-40k_cityscapes-512x1024.
_base_ = ["./fcn-d6_r50-d16_4xb2-40k_cityscapes-512x1024.py"]

model = dict(
    backbone=dict(
        depth=101,
        # OpenMMLab's ImageNet ResNet-101-V1c, to be imported into the model zoo
        init_cfg=dict(checkpoint="zoo://resnet101-v1c_in1k"),
    )
)
