# The synthetic shapes segmentation set (labcore.datasets.synthetic, task 'seg', version 2:
# 2-5 shapes of 16-38 px per image): 64x64 images, background + 8 shape classes, PNG
# label maps with 255 on the shapes' outer ring.
# Generated on first use under $OPENLAB_DATA (default ~/.cache/openlab/data).
dataset_type = "SegDataset"
shapes = dict(num_train=1000, num_val=200, image_size=64, seed=0, version=2)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="SegRandomFlip", prob=0.5),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="PackSegInputs"),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        synthetic=shapes,
        data_prefix=dict(img_path="images/train", seg_map_path="annotations/train"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        synthetic=shapes,
        data_prefix=dict(img_path="images/val", seg_map_path="annotations/val"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(type="IoUMetric", iou_metrics=["mIoU", "mDice"])
test_evaluator = val_evaluator
