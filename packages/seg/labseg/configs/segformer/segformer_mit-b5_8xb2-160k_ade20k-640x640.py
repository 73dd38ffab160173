# segformer_mit-b5_8xb2-160k_ade20k-512x512 at 640x640 crops (images resized to fit 2048x640
# times 0.5-2.0; tested at 2048x640), as MMSegmentation's segformer_mit-b5_8xb2-160k_ade20k-640x640.
_base_ = ["./segformer_mit-b5_8xb2-160k_ade20k-512x512.py"]

crop_size = (640, 640)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="SegRandomResize", scale=(2048, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="SegRandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="SegRandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="SegResize", scale=(2048, 640), keep_ratio=True),
    dict(type="LoadSegAnnotations"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(data_preprocessor=dict(size=crop_size))
