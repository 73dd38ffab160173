# DOTA v1.0 (15 classes), cut into 1024x1024 patches with a gap (overlap) of 200 px at
# rate 1.0 (MMRotate's ss split, in DOTA-format folders with `annfiles/`): train patches for
# training, val patches for evaluation. Boxes in the le90 convention (the datasets'
# ``angle_version``; the flips follow the samples'); flips in three directions; DOTA mAP
# (VOC07 11 points) at rotated IoU 0.5 on val.
dataset_type = "DOTADataset"
data_root = "data/split_ss_dota/"
angle_version = "le90"

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadRotatedAnnotations"),
    dict(
        type="RotatedRandomFlip",
        prob=0.75,
        directions=["horizontal", "vertical", "diagonal"],  # in the samples' convention
    ),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadRotatedAnnotations", difficult_as_ignored=True),
    dict(type="PackDetInputs"),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img="train/images/", ann="train/annfiles/"),
        angle_version=angle_version,
        filter_empty_gt=True,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img="val/images/", ann="val/annfiles/"),
        angle_version=angle_version,
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(type="DOTAMetric", iou_thr=0.5, ap_mode="11points")
test_evaluator = val_evaluator
