# ResNet-152 for ImageNet-1k: ResNet-50's classifier with 152 layers.
_base_ = ["resnet50.py"]

model = dict(backbone=dict(depth=152))
