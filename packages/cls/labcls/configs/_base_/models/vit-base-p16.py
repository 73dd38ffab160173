# ViT-B/16 for ImageNet-1k (ViT-B and DeiT-B sizes): class token -> linear head, without
# the pre-logits layer of the original ViT's from-scratch training.
model = dict(
    type="ImageClassifier",
    backbone=dict(
        type="VisionTransformer",
        arch="base",
        img_size=224,
        patch_size=16,
        drop_path_rate=0.1,
        out_type="cls_token",
    ),
    head=dict(
        type="VisionTransformerClsHead",
        num_classes=1000,
        in_channels=768,
        loss=dict(type="CrossEntropyLoss", label_smoothing=0.1, loss_weight=1.0),
        init_cfg=dict(type="TruncNormal", layer="Linear", std=2e-5),
    ),
)
