# deeplabv3_r50b-d8_4xb2-80k_cityscapes-769x769 on torchvision's ResNet-101, as MMSegmentation's
# deeplabv3_r101b-d8_4xb2-80k_cityscapes-769x769.
_base_ = ["./deeplabv3_r50b-d8_4xb2-80k_cityscapes-769x769.py"]

model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint="torchvision://resnet101")))
