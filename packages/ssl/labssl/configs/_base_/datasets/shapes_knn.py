# Pretraining on the synthetic shapes set (labcore.datasets.synthetic v1, 8 classes, 2000
# train / 400 val images of 32x32), labels unused; k-NN on the frozen features as the
# evaluation (k=20, T=0.07, cosine; the labelled train split is the bank). A method's
# config adds its multi-view train pipeline.
dataset_type = "ShapesDataset"
shapes = dict(seed=0, version=1, num_train=2000, num_val=400, image_size=32)
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[63.75, 63.75, 63.75])

test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="PackClsInputs"),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    drop_last=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(type=dataset_type, split="train", generate=shapes),
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
val_evaluator = [dict(type="KNNAccuracy", k=20, temperature=0.07, topk=(1, 5))]

test_dataloader = val_dataloader
test_cfg = dict(type="KNNTestLoop", bank_dataloader=knn_bank)
test_evaluator = val_evaluator
