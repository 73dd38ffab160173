# The synthetic shapes detection set (labcore.datasets.synthetic, task 'det'): 128x128 images,
# 8 shape classes, 2-6 objects each, COCO JSON with boxes, polygons and RLE masks. Generated
# on first use under $OPENLAB_DATA (default ~/.cache/openlab/data). Evaluated by bbox mAP
# against the generated val annotation file.
dataset_type = "CocoDataset"
shapes = dict(num_train=1000, num_val=200, image_size=128, seed=0, version=1)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(type="DetRandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(type="PackDetInputs"),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        synthetic=shapes,
        ann_file="annotations/instances_train.json",
        data_prefix=dict(img="train/"),
        filter_empty_gt=True,
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
        ann_file="annotations/instances_val.json",
        data_prefix=dict(img="val/"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

# DetCocoMetric reads the annotation file from the evaluated data set.
val_evaluator = dict(type="DetCocoMetric", metric="bbox")
test_evaluator = val_evaluator
