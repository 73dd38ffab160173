# The linear probe on the labelled shapes set: random flips for training, the val split
# scored by the linear head's top-1 and, on the same frozen features, by k-NN (k=20,
# T=0.07, cosine; the train split is the bank). The val split has 2000 images (the
# first 400 are the pretraining's), so a top-1 near 0.2 is read to +-0.009, not +-0.02.
dataset_type = "ShapesDataset"
shapes = dict(seed=0, version=1, num_train=2000, num_val=2000, image_size=32)
data_preprocessor = dict(num_classes=8, mean=[127.5, 127.5, 127.5], std=[63.75, 63.75, 63.75])

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
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
knn_bank = dict(
    batch_size=100,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type=dataset_type, split="train", generate=shapes, pipeline=test_pipeline),
)
val_cfg = dict(type="KNNValLoop", bank_dataloader=knn_bank)
val_evaluator = [
    dict(type="Accuracy", topk=(1,)),
    dict(type="KNNAccuracy", k=20, temperature=0.07, topk=(1, 5)),
]

test_dataloader = val_dataloader
test_cfg = dict(type="KNNTestLoop", bank_dataloader=knn_bank)
test_evaluator = val_evaluator
