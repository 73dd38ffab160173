# resnet18_tiny_shapes with the ResNet-D changes ("Bag of Tricks", He et al. 2019): a stem
# of three 3x3 convs and downsampling shortcuts that average-pool before their 1x1 conv.
_base_ = ["./resnet18_tiny_shapes.py"]

model = dict(backbone=dict(type="ResNetV1d"))
