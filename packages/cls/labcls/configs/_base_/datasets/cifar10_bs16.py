# CIFAR-10 from its python pickle files (data/cifar10/cifar-10-batches-py), 16 per GPU.
dataset_type = "CIFAR10"
data_root = "data/cifar10"
data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
)

train_pipeline = [
    dict(type="RandomResizedCrop", scale=32, crop_ratio_range=(0.6, 1.0)),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
    dict(type="PackClsInputs"),
]
test_pipeline = [dict(type="PackClsInputs")]

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split="train", pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split="test", pipeline=test_pipeline),
)
val_evaluator = dict(type="Accuracy", topk=(1,))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
