# upernet_r50_4xb2-40k_cityscapes-512x1024 on ResNet-101-V1c, as MMSegmentation's
# upernet_r101_4xb2-40k_cityscapes-512x1024.
_base_ = ["./upernet_r50_4xb2-40k_cityscapes-512x1024.py"]

model = dict(
    backbone=dict(
        depth=101,
        # OpenMMLab's ImageNet ResNet-101-V1c, to be imported into the model zoo
        init_cfg=dict(checkpoint="zoo://resnet101-v1c_in1k"),
    )
)
