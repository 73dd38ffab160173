# GFL R50-FPN (MMDetection's gfl_r50_fpn_1x_coco): P3-P7 with P6 from P5, one square anchor of
# 8 strides per location for ATSS assignment, GroupNorm towers, 17 distance bins per edge,
# quality focal + GIoU (x2) + distribution focal (x0.25) losses.
model = dict(
    type="GFL",
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
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type="FrozenBN"),
        norm_eval=True,
    ),
    neck=dict(
        type="FPN",
        in_channels=[512, 1024, 2048],
        out_channels=256,
        extra_levels="p6p7",
        extra_source="output",
    ),
    bbox_head=dict(
        type="GFLHead",
        num_classes=80,
        in_channels=256,
        feat_channels=256,
        stacked_convs=4,
        num_groups=32,
        reg_max=16,
        anchor_generator=dict(
            type="AnchorGenerator",
            sizes=[[64], [128], [256], [512], [1024]],
            aspect_ratios=[[1.0]] * 5,
            strides=[8, 16, 32, 64, 128],
        ),
        assigner=dict(type="ATSSAssigner", topk=9),
        loss_cls=dict(type="QualityFocalLoss", beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=2.0),
        loss_dfl=dict(type="DistributionFocalLoss", loss_weight=0.25),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.6, topk_candidates=1000, max_per_img=100),
    ),
)
