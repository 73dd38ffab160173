# A half-width MobileNetV2 on the synthetic shapes set (protocol cls-shapes-tiny). The stem
# and stage 1 keep stride 1 (as MobileNetV2 on CIFAR does), so 32x32 images end at 4x4
# maps instead of 1x1.
_base_ = [
    "../_base_/models/mobilenet_v2_1x.py",
    "../_base_/datasets/shapes_tiny.py",
    "../_base_/schedules/shapes_tiny.py",
    "../_base_/default_runtime.py",
]

model = dict(
    backbone=dict(widen_factor=0.5, strides=(2, 1, 2, 2, 2, 1, 1, 1)),
    head=dict(num_classes=8, in_channels=1280, topk=(1,)),
)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
