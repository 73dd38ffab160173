# fcn_r50-d8_4xb2-80k_cityscapes-769x769 on torchvision's ResNet-50 (7x7 stem, "ResNet-50-B")
# instead of ResNet-50-V1c, from torchvision's ImageNet weights, as MMSegmentation's
# fcn_r50b-d8_4xb2-80k_cityscapes-769x769.
_base_ = ["./fcn_r50-d8_4xb2-80k_cityscapes-769x769.py"]

model = dict(
    backbone=dict(
        type="ResNet",
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet50"),
    )
)
