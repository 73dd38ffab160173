# The linear evaluation of mocov2_resnet50_8xb32-coslr-200e_in1k (protocol
# imagenet-1k-ssl-linear-100e), MoCo's recipe: the pretrained ResNet-50 frozen (BatchNorm
# in eval), global average pooling, a linear classifier; SGD lr 30, 100 epochs, steps at
# 60 and 80. Published: 67.5 top-1 (MMPretrain, MoCo v2 R-50 200e).
_base_ = [
    "../_base_/models/resnet50.py",
    "../_base_/datasets/imagenet_linear.py",
    "../_base_/schedules/imagenet_linear_steplr_100e.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="LinearProbeClassifier",
    backbone=dict(
        type="ResNet",
        depth=50,
        out_indices=(3,),
        init_cfg=dict(
            type="Pretrained",
            checkpoint="zoo://mocov2_resnet50_8xb32-coslr-200e_in1k",
            prefix="backbone.",
        ),
    ),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(
        type="LinearClsHead",
        num_classes=1000,
        in_channels=2048,
        loss=dict(type="CrossEntropyLoss", loss_weight=1.0),
        topk=(1, 5),
        init_cfg=dict(type="Normal", std=0.01, layer="Linear"),
    ),
)
