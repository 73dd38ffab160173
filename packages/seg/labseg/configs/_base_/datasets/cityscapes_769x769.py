# Cityscapes fine at 769x769 crops, as MMSegmentation's cityscapes_769x769: images resized
# to fit 2049x1025 times 0.5-2.0, cropped (no class over 75% of a crop), flipped,
# photometric distortion; tested at 2049x1025 (the configs slide 769x769 windows over it).
_base_ = ["./cityscapes.py"]

crop_size = (769, 769)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="SegRandomResize", scale=(2049, 1025), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="SegRandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="SegRandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="SegResize", scale=(2049, 1025), keep_ratio=True),
    dict(type="LoadSegAnnotations"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
