# The linear probe on ImageNet-1k: RandomResizedCrop 224 + flip for training; resize 256
# and centre crop 224 for evaluation, scored by the linear head's top-1/top-5 and by k-NN
# on the same frozen features. 8 devices x 32 images.
_base_ = ["./imagenet_knn.py"]

data_preprocessor = dict(num_classes=1000)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="RandomResizedCrop", scale=224),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
    dict(type="PackClsInputs"),
]
train_dataloader = dict(drop_last=False, dataset=dict(pipeline=train_pipeline))
val_evaluator = [
    dict(type="Accuracy", topk=(1, 5)),
    dict(type="KNNAccuracy", k=20, temperature=0.07, topk=(1, 5)),
]
test_evaluator = val_evaluator
