# The synthetic shapes set for protocol cls-shapes-tiny: 8 classes, 2000 train and 400
# val images of 32x32, generated on first use (labcore.datasets.synthetic).
dataset_type = "ShapesDataset"
shapes = dict(seed=0, version=1, num_train=2000, num_val=400, image_size=32)
data_preprocessor = dict(num_classes=8, mean=[127.5, 127.5, 127.5], std=[63.75, 63.75, 63.75])

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
    dict(type="RandomFlip", prob=0.5, direction="vertical"),  # every shape class is symmetric
    dict(type="PackClsInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="PackClsInputs"),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(type=dataset_type, split="train", generate=shapes, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=100,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type=dataset_type, split="val", generate=shapes, pipeline=test_pipeline),
)
val_evaluator = [
    dict(type="Accuracy", topk=(1, 5)),
    dict(type="SingleLabelMetric"),
    dict(type="ConfusionMatrix"),
]

test_dataloader = val_dataloader
test_evaluator = val_evaluator
