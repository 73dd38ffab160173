# BYOL ResNet-50 on ImageNet-1k, 200 epochs at batch 4096 (16 x 256), the recipe of
# MMPretrain's byol_resnet50_16xb256-coslr-200e: two asymmetric views (blur p 1.0 / 0.1,
# solarize p 0 / 0.2), projection 2048 -> 4096 -> 256, predictor 256 -> 4096 -> 256,
# target momentum 0.99 rising to 1 on a cosine; LARS with weight decay 1.5e-6. Its batch
# differs from imagenet-1k-ssl-200e's, so it is registered under no protocol.
_base_ = [
    "../_base_/models/resnet50.py",
    "../_base_/datasets/imagenet_knn.py",
    "../_base_/schedules/imagenet_lars_coslr_200e.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="BYOL",
    backbone={{_base_.backbone}},
    neck=dict(
        type="NonLinearNeck",
        in_channels=2048,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_last_bn=False,
    ),
    head=dict(
        type="LatentPredictHead",
        predictor=dict(
            type="NonLinearNeck",
            in_channels=256,
            hid_channels=4096,
            out_channels=256,
            num_layers=2,
            with_last_bn=False,
            with_avg_pool=False,
        ),
    ),
    base_momentum=0.99,
)


def byol_view(blur_prob, solarize_prob):
    return [
        dict(type="RandomResizedCrop", scale=224, crop_ratio_range=(0.08, 1.0)),
        dict(type="RandomFlip", prob=0.5, direction="horizontal"),
        dict(
            type="RandomApply",
            transforms=[
                dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
            ],
            prob=0.8,
        ),
        dict(type="RandomGrayscale", prob=0.2),
        dict(type="GaussianBlur", sigma_range=(0.1, 2.0), prob=blur_prob),
        dict(type="Solarize", threshold=128, prob=solarize_prob),
    ]


train_dataloader = dict(
    batch_size=256,
    dataset=dict(
        pipeline=[
            dict(type="LoadImageFromFile"),
            dict(
                type="MultiView",
                num_views=[1, 1],
                transforms=[byol_view(1.0, 0.0), byol_view(0.1, 0.2)],
            ),
            dict(type="PackMultiViewInputs"),
        ]
    ),
)
optim_wrapper = dict(optimizer=dict(weight_decay=1.5e-6))
custom_hooks = [
    dict(type="RNGStateHook"),
    dict(type="NonFiniteLossHook"),
    dict(type="MomentumUpdateHook", schedule="cosine", end_momentum=1.0),
]
