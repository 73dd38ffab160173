# fcn-d6_r50b-d16_4xb2-80k_cityscapes-769x769 on torchvision's ResNet-101, as MMSegmentation's
# fcn-d6_r101b-d16_4xb2-80k_cityscapes-769x769.
_base_ = ["./fcn-d6_r50b-d16_4xb2-80k_cityscapes-769x769.py"]

model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint="torchvision://resnet101")))
