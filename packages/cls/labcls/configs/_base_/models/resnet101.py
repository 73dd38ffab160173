# ResNet-101 for ImageNet-1k: ResNet-50's classifier with 101 layers.
_base_ = ["resnet50.py"]

model = dict(backbone=dict(depth=101))
