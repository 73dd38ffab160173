# ConvNeXt-B for ImageNet-1k: the backbone pools before its final norm and returns
# Tensor[B, C, 1, 1], flattened by the pooling neck; stochastic depth 0.5 and label
# smoothing 0.1 as in the recipe.
model = dict(
    type="ImageClassifier",
    backbone=dict(type="ConvNeXt", arch="base", drop_path_rate=0.5),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(
        type="LinearClsHead",
        num_classes=1000,
        in_channels=1024,
        loss=dict(type="CrossEntropyLoss", label_smoothing=0.1, loss_weight=1.0),
        init_cfg=None,
    ),
    init_cfg=[
        dict(type="TruncNormal", layer=["Conv2d", "Linear"], std=0.02, bias=0.0),
        dict(type="Constant", layer=["LayerNorm"], val=1.0, bias=0.0),
    ],
)
