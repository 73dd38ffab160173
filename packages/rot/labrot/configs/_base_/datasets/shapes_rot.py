# The synthetic rotated shapes set (labcore.datasets.synthetic, task 'rot'): 128x128 images,
# 8 shape classes, 2-6 objects each, in the DOTA format (oriented box of each shape's visible
# outline, difficult when mostly covered). Generated on first use under $OPENLAB_DATA
# (default ~/.cache/openlab/data). Boxes in the le90 convention; DOTA mAP at rotated IoU 0.5.
dataset_type = "DOTADataset"
angle_version = "le90"
shapes = dict(num_train=1000, num_val=200, image_size=128, seed=0, version=1)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadRotatedAnnotations"),
    dict(
        type="RotatedRandomFlip",
        prob=0.75,
        directions=["horizontal", "vertical", "diagonal"],
        angle_version=angle_version,
    ),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadRotatedAnnotations", difficult_as_ignored=True),
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
        data_prefix=dict(img="train/images/", ann="train/labelTxt/"),
        angle_version=angle_version,
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
        data_prefix=dict(img="val/images/", ann="val/labelTxt/"),
        angle_version=angle_version,
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(type="DOTAMetric", iou_thr=0.5, ap_mode="11points")
test_evaluator = val_evaluator
