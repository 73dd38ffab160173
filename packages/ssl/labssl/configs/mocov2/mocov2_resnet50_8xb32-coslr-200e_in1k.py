# MoCo v2 ResNet-50 on ImageNet-1k, 200 epochs at batch 256 (8 x 32), protocol
# imagenet-1k-ssl-200e: the MoCo v2 recipe (MMPretrain's mocov2_resnet50_8xb32-coslr-200e):
# crops of 20-100%, colour jitter 0.4/0.4/0.4/0.1 with p 0.8, grayscale p 0.2, Gaussian
# blur sigma 0.1-2 with p 0.5, flips; a 65536-key queue, temperature 0.2, momentum 0.999.
_base_ = [
    "../_base_/models/resnet50.py",
    "../_base_/datasets/imagenet_knn.py",
    "../_base_/schedules/imagenet_sgd_coslr_200e.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="MoCoV2",
    backbone={{_base_.backbone}},
    neck=dict(type="MoCoV2Neck", in_channels=2048, hid_channels=2048, out_channels=128),
    head=dict(type="ContrastiveHead", temperature=0.2),
    queue_len=65536,
    feat_dim=128,
    base_momentum=0.999,
)

view_pipeline = [
    dict(type="RandomResizedCrop", scale=224, crop_ratio_range=(0.2, 1.0)),
    dict(
        type="RandomApply",
        transforms=[
            dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
        ],
        prob=0.8,
    ),
    dict(type="RandomGrayscale", prob=0.2),
    dict(type="GaussianBlur", sigma_range=(0.1, 2.0), prob=0.5),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
]
train_dataloader = dict(
    dataset=dict(
        pipeline=[
            dict(type="LoadImageFromFile"),
            dict(type="MultiView", num_views=2, transforms=[view_pipeline]),
            dict(type="PackMultiViewInputs"),
        ]
    )
)

custom_hooks = [
    dict(type="RNGStateHook"),
    dict(type="NonFiniteLossHook"),
    dict(type="MomentumUpdateHook", schedule="constant"),
]
