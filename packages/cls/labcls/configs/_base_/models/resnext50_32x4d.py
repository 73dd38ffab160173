# ResNeXt-50 (32x4d) for ImageNet-1k.
model = dict(
    type="ImageClassifier",
    backbone=dict(type="ResNeXt", depth=50, groups=32, width_per_group=4, out_indices=(3,)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(
        type="LinearClsHead",
        num_classes=1000,
        in_channels=2048,
        loss=dict(type="CrossEntropyLoss", loss_weight=1.0),
        topk=(1, 5),
    ),
)
