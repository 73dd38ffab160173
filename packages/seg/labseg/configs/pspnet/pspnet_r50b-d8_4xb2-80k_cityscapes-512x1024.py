# pspnet_r50-d8_4xb2-80k_cityscapes-512x1024 on torchvision's ResNet-50 (7x7 stem, "ResNet-50-B")
# instead of ResNet-50-V1c, from torchvision's ImageNet weights, as MMSegmentation's
# pspnet_r50b-d8_4xb2-80k_cityscapes-512x1024.
_base_ = ["./pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py"]

model = dict(
    backbone=dict(
        type="ResNet",
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet50"),
    )
)
