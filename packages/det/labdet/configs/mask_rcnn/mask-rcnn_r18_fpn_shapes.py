# A tiny Mask R-CNN for the CPU: the tiny Faster R-CNN plus a two-conv, 64-channel mask branch.
_base_ = ["../faster_rcnn/faster-rcnn_r18_fpn_shapes.py"]

model = dict(
    type="MaskRCNN",
    roi_head=dict(
        mask_roi_size=14,
        mask_head=dict(type="MaskRCNNHead", in_channels=64, layers=(64, 64)),
        mask_predictor=dict(
            type="MaskRCNNPredictor", in_channels=64, dim_reduced=64, num_classes=8
        ),
        loss_mask=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
    ),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=True),
    dict(type="DetRandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(type="DetCocoMetric", metric=["bbox", "segm"])
test_evaluator = val_evaluator
