# A tiny Cascade Mask R-CNN for the CPU: the tiny Cascade R-CNN plus a two-conv, 64-channel mask
# branch in every stage.
_base_ = ["./cascade-rcnn_r18_fpn_shapes.py"]

model = dict(
    roi_head=dict(
        mask_roi_size=14,
        stages=[
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=64 * 7 * 7, representation_size=256),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=256, num_classes=8, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(10.0, 10.0, 5.0, 5.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5),
                sampler=dict(type="RandomSampler", num=64, pos_fraction=0.25),
                mask_head=dict(type="MaskRCNNHead", in_channels=64, layers=(64, 64)),
                mask_predictor=dict(
                    type="MaskRCNNPredictor", in_channels=64, dim_reduced=64, num_classes=8
                ),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=64 * 7 * 7, representation_size=256),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=256, num_classes=8, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(20.0, 20.0, 10.0, 10.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.6),
                sampler=dict(type="RandomSampler", num=64, pos_fraction=0.25),
                mask_head=dict(type="MaskRCNNHead", in_channels=64, layers=(64, 64)),
                mask_predictor=dict(
                    type="MaskRCNNPredictor", in_channels=64, dim_reduced=64, num_classes=8
                ),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=64 * 7 * 7, representation_size=256),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=256, num_classes=8, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(30.0, 30.0, 15.0, 15.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.7),
                sampler=dict(type="RandomSampler", num=64, pos_fraction=0.25),
                mask_head=dict(type="MaskRCNNHead", in_channels=64, layers=(64, 64)),
                mask_predictor=dict(
                    type="MaskRCNNPredictor", in_channels=64, dim_reduced=64, num_classes=8
                ),
            ),
        ],
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
