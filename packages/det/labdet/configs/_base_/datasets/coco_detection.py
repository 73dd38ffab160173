# COCO 2017 boxes: train2017 / val2017 under data_root, images resized to fit 1333x800
# (aspect ratio kept), flipped at random while training, evaluated by bbox mAP.
dataset_type = "CocoDataset"
data_root = "data/coco/"

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(type="DetResize", scale=(1333, 800), keep_ratio=True),
    dict(type="DetRandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(type="DetResize", scale=(1333, 800), keep_ratio=True),
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
        ann_file="annotations/instances_train2017.json",
        data_prefix=dict(img="train2017/"),
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
        ann_file="annotations/instances_val2017.json",
        data_prefix=dict(img="val2017/"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(
    type="CocoMetric", ann_file=data_root + "annotations/instances_val2017.json", metric="bbox"
)
test_evaluator = val_evaluator
