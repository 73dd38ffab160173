# The synthetic shapes keypoints (labcore.datasets.synthetic, task 'pose'): 128x128 images
# with 1-4 shapes, 5 keypoints each (centre, top, right, bottom, left), COCO keypoint JSON.
# Generated on first use under $OPENLAB_DATA. Each sample is one shape's box, cropped to
# 64x64; validation uses the ground-truth boxes and COCO keypoint AP with the shapes' OKS
# sigmas (labpose's shapes metainfo).
dataset_type = "CocoKeypointDataset"
shapes = dict(num_train=1000, num_val=200, image_size=128, seed=0, version=1)
input_size = (64, 64)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="RandomFlip", prob=0.5),
    # no rotation: the shapes' top/right/bottom/left keypoints are extremes in image axes,
    # which a rotated crop would no longer show
    dict(type="RandomBBoxTransform", shift_factor=0.1, scale_factor=(0.8, 1.2), rotate_prob=0.0),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="PackPoseInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="PackPoseInputs"),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        synthetic=shapes,
        metainfo=dict(from_file="shapes"),
        ann_file="annotations/keypoints_train.json",
        data_prefix=dict(img="train/"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        synthetic=shapes,
        metainfo=dict(from_file="shapes"),
        ann_file="annotations/keypoints_val.json",
        data_prefix=dict(img="val/"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

# PoseCocoMetric reads the annotation file and the OKS sigmas from the evaluated data set.
val_evaluator = dict(type="PoseCocoMetric")
test_evaluator = val_evaluator
