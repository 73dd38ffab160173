# SimCLR ResNet-50 on ImageNet-1k, 200 epochs at batch 4096 (16 x 256), the recipe of
# MMPretrain's simclr_resnet50_16xb256-coslr-200e: crops of 8-100%, colour jitter
# 0.8/0.8/0.8/0.2 with p 0.8, grayscale p 0.2, Gaussian blur p 0.5, flips; a 2-layer
# projection to 128 with BatchNorm, NT-Xent at temperature 0.1 over the global batch;
# LARS. Its batch differs from imagenet-1k-ssl-200e's, so it is registered under no
# protocol: `lab train` runs it as it is.
_base_ = [
    "../_base_/models/resnet50.py",
    "../_base_/datasets/imagenet_knn.py",
    "../_base_/schedules/imagenet_lars_coslr_200e.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="SimCLR",
    backbone={{_base_.backbone}},
    neck=dict(
        type="NonLinearNeck", in_channels=2048, hid_channels=2048, out_channels=128, num_layers=2
    ),
    head=dict(type="ContrastiveHead", temperature=0.1),
)

view_pipeline = [
    dict(type="RandomResizedCrop", scale=224, crop_ratio_range=(0.08, 1.0)),
    dict(
        type="RandomApply",
        transforms=[
            dict(type="ColorJitter", brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)
        ],
        prob=0.8,
    ),
    dict(type="RandomGrayscale", prob=0.2),
    dict(type="GaussianBlur", sigma_range=(0.1, 2.0), prob=0.5),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
]
train_dataloader = dict(
    batch_size=256,
    dataset=dict(
        pipeline=[
            dict(type="LoadImageFromFile"),
            dict(type="MultiView", num_views=2, transforms=[view_pipeline]),
            dict(type="PackMultiViewInputs"),
        ]
    ),
)
