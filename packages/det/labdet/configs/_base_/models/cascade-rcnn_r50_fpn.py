# Cascade R-CNN R50-FPN (MMDetection's cascade-rcnn_r50_fpn_1x_coco): the Faster R-CNN R50-FPN
# RPN and three class-agnostic box stages trained at IoU 0.5 / 0.6 / 0.7 with ever tighter
# box-coder weights, stage losses weighted 1 / 0.5 / 0.25.
_base_ = ["./faster-rcnn_r50_fpn.py"]

model = dict(
    type="CascadeRCNN",
    roi_head=dict(
        _delete_=True,
        type="CascadeRoIHead",
        num_classes=80,
        num_levels=4,
        box_roi_size=7,
        sampling_ratio=2,
        stage_loss_weights=[1.0, 0.5, 0.25],
        stages=[
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=256 * 7 * 7, representation_size=1024),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=1024, num_classes=80, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(10.0, 10.0, 5.0, 5.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5),
                sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=256 * 7 * 7, representation_size=1024),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=1024, num_classes=80, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(20.0, 20.0, 10.0, 10.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.6),
                sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=256 * 7 * 7, representation_size=1024),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=1024, num_classes=80, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(30.0, 30.0, 15.0, 15.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.7),
                sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25),
            ),
        ],
        loss_cls=dict(type="CrossEntropyLoss", loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.5, max_per_img=100, min_box_size=1e-2),
    ),
)
