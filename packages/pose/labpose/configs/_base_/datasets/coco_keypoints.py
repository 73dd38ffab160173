# COCO 2017 person keypoints, top-down at 256x192 (MMPose's recipe): train on the
# ground-truth boxes with flip, half-body and box augmentation; test on the ground-truth
# boxes (set test_dataloader.dataset.bbox_file to a detector's COCO results file, e.g.
# MMPose's COCO_val2017_detections_AP_H_56_person.json, for the detector-box numbers).
dataset_type = "CocoKeypointDataset"
data_root = "data/coco/"
input_size = (192, 256)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomHalfBody"),
    dict(type="RandomBBoxTransform"),
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
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=dict(from_file="coco"),
        ann_file="annotations/person_keypoints_train2017.json",
        data_prefix=dict(img="train2017/"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=dict(from_file="coco"),
        ann_file="annotations/person_keypoints_val2017.json",
        data_prefix=dict(img="val2017/"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(type="PoseCocoMetric")
test_evaluator = val_evaluator
