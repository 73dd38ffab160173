# PSPNet on ResNet-50 (torchvision's stem) with stride 2 in every stage and stages 3-4 still
# dilated (output stride 32), as MMSegmentation's pspnet_r50b-d32_4xb2-80k_cityscapes-512x1024.
_base_ = ["./pspnet_r50b-d8_4xb2-80k_cityscapes-512x1024.py"]

model = dict(backbone=dict(strides=(1, 2, 2, 2)))
