# ImageNet-1k in the ImageNet folder layout (train/, val/, meta/{train,val}.txt),
# 32 images per GPU, the ResNet-style augmentation: random resized crop and flip.
dataset_type = "ImageNet"
data_root = "data/imagenet"
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],  # RGB, 0..255 units
    std=[58.395, 57.12, 57.375],
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="RandomResizedCrop", scale=224),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
    dict(type="PackClsInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="CenterCrop", crop_size=224),
    dict(type="PackClsInputs"),
]

train_dataloader = dict(
    batch_size=32,
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
    batch_size=32,
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
