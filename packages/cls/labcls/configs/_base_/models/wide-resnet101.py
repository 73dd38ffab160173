# Wide ResNet-101-2 for ImageNet-1k: Wide ResNet-50-2 with 101 layers, as torchvision's
# wide_resnet101_2.
_base_ = ["wide-resnet50.py"]

model = dict(backbone=dict(depth=101))
