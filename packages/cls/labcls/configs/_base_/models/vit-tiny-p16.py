# ViT-T/16 for ImageNet-1k (DeiT-Ti sizes): class token -> linear head.
model = dict(
    type="ImageClassifier",
    backbone=dict(
        type="VisionTransformer",
        arch="tiny",
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type="cls_token",
    ),
    head=dict(
        type="VisionTransformerClsHead",
        num_classes=1000,
        in_channels=192,
        loss=dict(type="CrossEntropyLoss", label_smoothing=0.1, loss_weight=1.0),
        init_cfg=dict(type="TruncNormal", layer="Linear", std=2e-5),
    ),
)
