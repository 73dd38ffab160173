# fcn_r50-d8_4xb4-160k_ade20k-512x512 on ResNet-101-V1c, as MMSegmentation's
# fcn_r101-d8_4xb4-160k_ade20k-512x512.
_base_ = ["./fcn_r50-d8_4xb4-160k_ade20k-512x512.py"]

model = dict(
    backbone=dict(
        depth=101,
        # OpenMMLab's ImageNet ResNet-101-V1c, to be imported into the model zoo
        init_cfg=dict(checkpoint="zoo://resnet101-v1c_in1k"),
    )
)
