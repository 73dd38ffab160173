# ResNet-34 for ImageNet-1k: ResNet-18's classifier with 34 layers.
_base_ = ["resnet18.py"]

model = dict(backbone=dict(depth=34))
