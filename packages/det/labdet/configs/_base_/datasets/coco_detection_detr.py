# COCO 2017 boxes with the DETR family's training augmentation (MMDetection's Deformable
# DETR / DINO recipe, protocols coco-50e and coco-detr-12e): random horizontal flip, then
# either a resize of the short side to one of 480, 512, ..., 800 (long side at most 1333),
# or a resize of the short side to 400 / 500 / 600, a random crop of 384 to 600 pixels a
# side and the same multi-scale resize. Images without objects are kept. Evaluation as in
# coco_detection.py.
_base_ = ["./coco_detection.py"]

detr_scales = [(480 + 32 * i, 1333) for i in range(11)]
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(type="DetRandomFlip", prob=0.5),
    dict(
        type="RandomChoice",
        transforms=[
            [dict(type="DetRandomChoiceResize", keep_ratio=True, scales=detr_scales)],
            [
                # the long side (4200) never binds on COCO, whose aspect ratios stay under 7
                dict(
                    type="DetRandomChoiceResize",
                    keep_ratio=True,
                    scales=[(400, 4200), (500, 4200), (600, 4200)],
                ),
                dict(
                    type="DetRandomCrop",
                    crop_type="absolute_range",
                    crop_size=(384, 600),
                    allow_negative_crop=True,
                ),
                dict(type="DetRandomChoiceResize", keep_ratio=True, scales=detr_scales),
            ],
        ],
    ),
    dict(type="PackDetInputs"),
]
train_dataloader = dict(dataset=dict(filter_empty_gt=False, pipeline=train_pipeline))
