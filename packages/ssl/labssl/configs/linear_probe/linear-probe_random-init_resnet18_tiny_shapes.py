# The baseline of protocol ssl-shapes-tiny: the quarter-width ResNet-18 at its random
# initialisation, frozen, probed by a linear classifier exactly as the pretrained ones.
_base_ = [
    "../_base_/models/resnet18_tiny.py",
    "../_base_/datasets/shapes_linear.py",
    "../_base_/schedules/shapes_linear.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="LinearProbeClassifier",
    backbone={{_base_.backbone}},
    neck=dict(type="GlobalAveragePooling"),
    feature_norm=128,  # BatchNorm without affine before the linear layer
    head=dict(
        type="LinearClsHead",
        num_classes=8,
        in_channels=128,
        loss=dict(type="CrossEntropyLoss", loss_weight=1.0),
        topk=(1,),
    ),
)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=10))
