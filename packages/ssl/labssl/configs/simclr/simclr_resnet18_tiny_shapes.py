# SimCLR on the synthetic shapes images (labels unused), protocol ssl-shapes-tiny-pretrain:
# the quarter-width ResNet-18, SimCLR's augmentations at 32x32 (colour jitter
# 0.8/0.8/0.8/0.2 with p 0.8, flips; no blur at this size, as the paper's CIFAR recipe),
# with crops of 50-100% (smaller ones often miss the shape) and grayscale p 0.5 (the
# shapes' colours say nothing of their class); a 2-layer projection with BatchNorm,
# NT-Xent over the batch's 2 x 32 views at temperature 0.2 (the paper's choice for small
# batches).
_base_ = [
    "../_base_/models/resnet18_tiny.py",
    "../_base_/datasets/shapes_knn.py",
    "../_base_/schedules/shapes_pretrain.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="SimCLR",
    backbone={{_base_.backbone}},
    neck=dict(
        type="NonLinearNeck", in_channels=128, hid_channels=512, out_channels=64, num_layers=2
    ),
    head=dict(type="ContrastiveHead", temperature=0.2),
)

view_pipeline = [
    dict(type="RandomResizedCrop", scale=32, crop_ratio_range=(0.5, 1.0)),
    dict(
        type="RandomApply",
        transforms=[
            dict(type="ColorJitter", brightness=0.8, contrast=0.8, saturation=0.8, hue=0.2)
        ],
        prob=0.8,
    ),
    dict(type="RandomGrayscale", prob=0.5),
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

# LARS as in the paper (biases and BatchNorm excluded from adaptation and decay), its
# learning rate 0.3 x batch / 256 scaled up for this short schedule.
optim_wrapper = dict(
    optimizer=dict(type="LARS", lr=1.2, momentum=0.9, weight_decay=1e-6),
    paramwise_cfg=dict(
        custom_keys={
            "bn": dict(decay_mult=0, lars_exclude=True),
            "bias": dict(decay_mult=0, lars_exclude=True),
            "downsample.1": dict(decay_mult=0, lars_exclude=True),
        }
    ),
)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=4))
