# A quarter-width ResNet-34 (16 stem channels, stages 16..128) on the synthetic shapes set
# (protocol cls-shapes-tiny): resnet18_tiny_shapes with the deeper stage layout (3, 4, 6, 3).
_base_ = ["./resnet18_tiny_shapes.py"]

model = dict(backbone=dict(depth=34))
