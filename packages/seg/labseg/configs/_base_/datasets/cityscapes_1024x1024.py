# Cityscapes fine at 1024x1024 crops, as MMSegmentation's cityscapes_1024x1024: images
# resized to fit 2048x1024 times 0.5-2.0, cropped (no class over 75% of a crop), flipped,
# photometric distortion; tested at 2048x1024 (the configs slide 1024x1024 windows over it).
_base_ = ["./cityscapes.py"]

crop_size = (1024, 1024)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="SegRandomResize", scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="SegRandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="SegRandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
