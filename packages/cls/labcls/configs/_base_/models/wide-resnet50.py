# Wide ResNet-50-2 for ImageNet-1k: ResNet-50 with bottlenecks twice as wide inside
# (width_per_group=128), as torchvision's wide_resnet50_2.
_base_ = ["resnet50.py"]

model = dict(backbone=dict(width_per_group=128))
