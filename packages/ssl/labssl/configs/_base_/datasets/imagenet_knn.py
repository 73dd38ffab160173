# Pretraining on ImageNet-1k train (labels unused), k-NN on the frozen features as the
# evaluation (k=20, T=0.07, cosine; the labelled train split, resized 256 and centre-cropped
# 224, is the bank). 8 devices x 32 images; a method's config adds its train pipeline.
dataset_type = "ImageNet"
data_root = "data/imagenet"
data_preprocessor = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])

test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="CenterCrop", crop_size=224),
    dict(type="PackClsInputs"),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file="meta/train.txt", data_prefix="train"
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
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
knn_bank = dict(
    batch_size=256,
    num_workers=8,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="meta/train.txt",
        data_prefix="train",
        pipeline=test_pipeline,
    ),
)
val_cfg = dict(type="KNNValLoop", bank_dataloader=knn_bank)
val_evaluator = [dict(type="KNNAccuracy", k=20, temperature=0.07, topk=(1, 5))]

test_dataloader = val_dataloader
test_cfg = dict(type="KNNTestLoop", bank_dataloader=knn_bank)
test_evaluator = val_evaluator
