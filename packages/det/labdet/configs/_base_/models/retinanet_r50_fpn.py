# RetinaNet R50-FPN: the architecture of torchvision's retinanet_resnet50_fpn (P3-P7, P6 from
# P5, anchors at 3 octave scales x 3 ratios, focal + L1 losses, FrozenBN backbone).
model = dict(
    type="RetinaNet",
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
        type="RetinaHead",
        num_classes=80,
        in_channels=256,
        feat_channels=256,
        stacked_convs=4,
        anchor_generator=dict(
            type="AnchorGenerator",
            # x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3)) for x in 32 .. 512
            sizes=[[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]],
            aspect_ratios=[[0.5, 1.0, 2.0]] * 5,
            strides=[8, 16, 32, 64, 128],
        ),
        bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(1.0, 1.0, 1.0, 1.0)),
        assigner=dict(
            type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.4, allow_low_quality_matches=True
        ),
        loss_cls=dict(type="FocalLoss", alpha=0.25, gamma=2.0, loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.5, topk_candidates=1000, max_per_img=100),
    ),
)
