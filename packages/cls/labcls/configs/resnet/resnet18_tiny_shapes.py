# A quarter-width ResNet-18 (16 stem channels, stages 16..128) on the synthetic shapes
# set (protocol cls-shapes-tiny). Only the last stage downsamples after the stem, so the
# 32x32 images keep 8x8 feature maps until stage 4.
_base_ = [
    "../_base_/models/resnet18.py",
    "../_base_/datasets/shapes_tiny.py",
    "../_base_/schedules/shapes_tiny.py",
    "../_base_/default_runtime.py",
]

model = dict(
    backbone=dict(
        type="ResNet", depth=18, stem_channels=16, base_channels=16, strides=(1, 1, 1, 2)
    ),
    head=dict(num_classes=8, in_channels=128, topk=(1,)),
)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
