# MAE ViT-B/16 on ImageNet-1k, 300 epochs at batch 4096 (8 x 512), the recipe of
# MMPretrain's mae_vit-base-p16_8xb512-amp-coslr-300e: 75% of the patches removed, a
# decoder of 8 layers of width 512, the loss on normalised pixels; crops of 20-100% at
# 224 and flips; AdamW lr 1.5e-4 x 4096 / 256, betas (0.9, 0.95), weight decay 0.05, 40
# epochs of warm-up then cosine. Registered under no protocol (its budget is its own).
_base_ = [
    "../_base_/datasets/imagenet_knn.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="MAE",
    backbone=dict(type="MAEViT", arch="base", img_size=224, patch_size=16, mask_ratio=0.75),
    neck=dict(
        type="MAEPretrainDecoder",
        num_patches=196,
        patch_size=16,
        embed_dims=768,
        decoder_dims=512,
        num_layers=8,
        num_heads=16,
    ),
    norm_pix=True,
)

train_dataloader = dict(
    batch_size=512,
    dataset=dict(
        pipeline=[
            dict(type="LoadImageFromFile"),
            dict(
                type="MultiView",
                num_views=1,
                transforms=[
                    [
                        dict(
                            type="RandomResizedCrop",
                            scale=224,
                            crop_ratio_range=(0.2, 1.0),
                            interpolation="bicubic",
                        ),
                        dict(type="RandomFlip", prob=0.5, direction="horizontal"),
                    ]
                ],
            ),
            dict(type="PackMultiViewInputs"),
        ]
    ),
)

optim_wrapper = dict(
    type="AmpOptimWrapper",
    optimizer=dict(type="AdamW", lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            "pos_embed": dict(decay_mult=0.0),
            "mask_token": dict(decay_mult=0.0),
            "cls_token": dict(decay_mult=0.0),
        },
    ),
)
param_scheduler = [
    dict(
        type="LinearLR",
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=40,
        convert_to_iter_based=True,
    ),
    dict(
        type="CosineAnnealingLR",
        T_max=260,
        by_epoch=True,
        begin=40,
        end=300,
        convert_to_iter_based=True,
    ),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=300)
