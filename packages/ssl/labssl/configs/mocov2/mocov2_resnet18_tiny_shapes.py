# MoCo v2 on the synthetic shapes images (labels unused), protocol ssl-shapes-tiny-pretrain:
# the quarter-width ResNet-18, MoCo v2's augmentations at 32x32 (colour jitter
# 0.4/0.4/0.4/0.1 with p 0.8, flips; the blur of the ImageNet recipe is left out at this
# size, as CIFAR recipes do) with crops of 50-100% (smaller ones often miss the shape) and
# grayscale p 0.5 (the shapes' colours say nothing of their class); a 1024-key queue,
# temperature 0.2, key-encoder momentum 0.99 for this short schedule. One process stands
# in for 4 devices: SplitBN normalises each quarter of the batch apart, and the key
# batch is shuffled before the key encoder (MoCo's shuffled BN), so a query and its key
# never share BatchNorm statistics.
_base_ = [
    "../_base_/datasets/shapes_knn.py",
    "../_base_/schedules/shapes_pretrain.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="MoCoV2",
    # the quarter-width ResNet-18 of _base_/models/resnet18_tiny.py, with SplitBN
    backbone=dict(
        type="ResNet",
        depth=18,
        stem_channels=16,
        base_channels=16,
        strides=(1, 1, 1, 2),
        norm_cfg=dict(type="SplitBN", num_splits=4),
    ),
    shuffle_bn=True,
    neck=dict(type="MoCoV2Neck", in_channels=128, hid_channels=512, out_channels=64),
    head=dict(type="ContrastiveHead", temperature=0.2),
    queue_len=1024,
    feat_dim=64,
    base_momentum=0.99,
)

view_pipeline = [
    dict(type="RandomResizedCrop", scale=32, crop_ratio_range=(0.5, 1.0)),
    dict(
        type="RandomApply",
        transforms=[
            dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
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

optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4))

custom_hooks = [
    dict(type="RNGStateHook"),
    dict(type="NonFiniteLossHook"),
    dict(type="MomentumUpdateHook", schedule="constant"),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=4))
