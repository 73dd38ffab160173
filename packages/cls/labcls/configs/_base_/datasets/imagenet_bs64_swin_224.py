# ImageNet-1k, 64 images per GPU, the stronger augmentation of ConvNeXt / DeiT recipes:
# random resized crop (bicubic), flip, colour jitter, then Mixup or CutMix per batch.
dataset_type = "ImageNet"
data_root = "data/imagenet"
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    batch_augments=dict(
        type="RandomBatchAugment",
        augments=[dict(type="Mixup", alpha=0.8), dict(type="CutMix", alpha=1.0)],
        probs=[0.5, 0.5],
    ),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="RandomResizedCrop", scale=224, interpolation="bicubic"),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
    dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4),
    dict(type="PackClsInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="ResizeEdge", scale=256, edge="short", interpolation="bicubic"),
    dict(type="CenterCrop", crop_size=224),
    dict(type="PackClsInputs"),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=5,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="meta/train.txt",
        data_prefix="train",
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=5,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="meta/val.txt",
        data_prefix="val",
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type="Accuracy", topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
