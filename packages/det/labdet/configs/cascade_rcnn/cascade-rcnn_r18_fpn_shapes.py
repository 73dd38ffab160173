# A tiny Cascade R-CNN for the CPU: the tiny Faster R-CNN's backbone, FPN and RPN, and three
# class-agnostic 256-wide box stages at IoU 0.5 / 0.6 / 0.7.
_base_ = ["../faster_rcnn/faster-rcnn_r18_fpn_shapes.py"]

model = dict(
    type="CascadeRCNN",
    roi_head=dict(
        _delete_=True,
        type="CascadeRoIHead",
        num_classes=8,
        num_levels=4,
        box_roi_size=7,
        sampling_ratio=2,
        stage_loss_weights=[1.0, 0.5, 0.25],
        stages=[
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=64 * 7 * 7, representation_size=256),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=256, num_classes=8, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(10.0, 10.0, 5.0, 5.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5),
                sampler=dict(type="RandomSampler", num=64, pos_fraction=0.25),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=64 * 7 * 7, representation_size=256),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=256, num_classes=8, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(20.0, 20.0, 10.0, 10.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.6),
                sampler=dict(type="RandomSampler", num=64, pos_fraction=0.25),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=64 * 7 * 7, representation_size=256),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=256, num_classes=8, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(30.0, 30.0, 15.0, 15.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.7),
                sampler=dict(type="RandomSampler", num=64, pos_fraction=0.25),
            ),
        ],
        loss_cls=dict(type="CrossEntropyLoss", loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.5, max_per_img=100, min_box_size=1e-2),
    ),
)
