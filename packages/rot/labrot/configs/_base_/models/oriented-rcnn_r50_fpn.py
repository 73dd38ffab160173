# Oriented R-CNN R50-FPN (MMRotate's oriented-rcnn-le90_r50_fpn): labdet's two-stage layout
# (P2-P6 with a max-pooled P6 for the RPN) with an oriented RPN (axis-aligned anchors, six
# midpoint offsets, rotated NMS of the proposals) and a rotated RoI head (rotated RoIAlign
# 7x7 on P2-P5, shared 2-FC box head, one class-agnostic rotated delta per RoI). The
# losses, the sampler, the 2-FC head and the predictor are labdet's, named as they are.
model = dict(
    type="OrientedRCNN",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,
        pad_size_divisor=32,
    ),
    backbone=dict(
        type="ResNet",
        depth=50,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type="FrozenBN"),
        norm_eval=True,
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet50_8xb32_in1k", prefix="backbone."
        ),
    ),
    neck=dict(
        type="FPN", in_channels=[256, 512, 1024, 2048], out_channels=256, extra_levels="maxpool"
    ),
    rpn_head=dict(
        type="OrientedRPNHead",
        in_channels=256,
        anchor_generator=dict(
            type="AnchorGenerator",
            sizes=[[32], [64], [128], [256], [512]],
            aspect_ratios=[[0.5, 1.0, 2.0]] * 5,
            strides=[4, 8, 16, 32, 64],
        ),
        # MMRotate's target_stds (1, 1, 1, 1, 0.5, 0.5) as multipliers
        bbox_coder=dict(
            type="MidpointOffsetBoxCoder",
            angle_version="le90",  # the convention of the proposals and detections
            weights=(1.0, 1.0, 1.0, 1.0, 2.0, 2.0),
        ),
        assigner=dict(
            type="OuterBoxMaxIoUAssigner",
            pos_iou_thr=0.7,
            neg_iou_thr=0.3,
            allow_low_quality_matches=True,
        ),
        sampler=dict(type="RandomSampler", num=256, pos_fraction=0.5),
        loss_objectness=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0 / 9, loss_weight=1.0),
        train_cfg=dict(
            pre_nms_top_n=2000, post_nms_top_n=2000, nms_iou_thr=0.8, score_thr=0.0, min_box_size=0
        ),
        test_cfg=dict(
            pre_nms_top_n=2000, post_nms_top_n=2000, nms_iou_thr=0.8, score_thr=0.0, min_box_size=0
        ),
    ),
    roi_head=dict(
        type="RotatedRoIHead",
        num_classes=15,
        roi_extractor=dict(
            type="RotatedSingleRoIExtractor",
            featmap_strides=[4, 8, 16, 32],
            output_size=7,
            sampling_ratio=2,
            finest_scale=56,
        ),
        box_head=dict(type="TwoMLPHead", in_channels=256 * 7 * 7, representation_size=1024),
        box_predictor=dict(
            type="FastRCNNPredictor",
            in_channels=1024,
            num_classes=15,
            class_agnostic=True,
            box_dim=5,
        ),
        # MMRotate's target_stds (0.1, 0.1, 0.2, 0.2, 0.1) as multipliers
        bbox_coder=dict(
            type="DeltaXYWHABoxCoder",
            angle_version="le90",  # the convention of the proposals and detections
            weights=(10.0, 10.0, 5.0, 5.0, 10.0),
        ),
        assigner=dict(type="RotatedMaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5),
        sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25),
        loss_cls=dict(type="CrossEntropyLoss", loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.1, max_per_img=2000),
    ),
)
