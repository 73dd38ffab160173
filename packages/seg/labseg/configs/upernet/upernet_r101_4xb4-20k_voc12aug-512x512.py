# upernet_r50_4xb4-20k_voc12aug-512x512 on ResNet-101-V1c, as MMSegmentation's
# upernet_r101_4xb4-20k_voc12aug-512x512.
_base_ = ["./upernet_r50_4xb4-20k_voc12aug-512x512.py"]

model = dict(
    backbone=dict(
        depth=101,
        # OpenMMLab's ImageNet ResNet-101-V1c, to be imported into the model zoo
        init_cfg=dict(checkpoint="zoo://resnet101-v1c_in1k"),
    )
)
