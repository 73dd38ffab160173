# ResNet-101 for ImageNet-1k.
model = dict(
    type="ImageClassifier",
    backbone=dict(type="ResNet", depth=101, out_indices=(3,)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(
        type="LinearClsHead",
        num_classes=1000,
        in_channels=2048,
        loss=dict(type="CrossEntropyLoss", loss_weight=1.0),
        topk=(1, 5),
    ),
)
