# A half-width MobileNetV2 on the synthetic shapes set (protocol cls-shapes-tiny).
_base_ = [
    "../_base_/models/mobilenet_v2_1x.py",
    "../_base_/datasets/shapes_tiny.py",
    "../_base_/schedules/shapes_tiny.py",
    "../_base_/default_runtime.py",
]

model = dict(
    backbone=dict(widen_factor=0.5),
    head=dict(num_classes=8, in_channels=1280, topk=(1,)),
)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=5))
