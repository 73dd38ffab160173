# Rotated RetinaNet R50-FPN (MMRotate's rotated-retinanet-rbox): labdet's RetinaNet layout
# (P3-P7, 3 octave scales x 3 ratios, focal loss) with horizontal anchors that regress the
# angle, max-IoU assignment on rotated IoU and rotated NMS. The focal and L1 losses and the
# data preprocessor are labdet's, named as they are: labrot's registries are labdet's children.
model = dict(
    type="RotatedRetinaNet",
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
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet50_8xb32_in1k", prefix="backbone."
        ),
    ),
    neck=dict(
        type="FPN",
        in_channels=[512, 1024, 2048],
        out_channels=256,
        extra_levels="p6p7",
        extra_source="input",
    ),
    bbox_head=dict(
        type="RotatedRetinaHead",
        num_classes=15,
        in_channels=256,
        feat_channels=256,
        stacked_convs=4,
        anchor_generator=dict(
            type="RotatedAnchorGenerator",
            # x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3)) for x in 32 .. 512
            sizes=[[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]],
            aspect_ratios=[[1.0, 0.5, 2.0]] * 5,
            strides=[8, 16, 32, 64, 128],
        ),
        bbox_coder=dict(
            type="DeltaXYWHABoxCoder",
            angle_version="le90",  # the convention of the detections (and of the data set)
            weights=(1.0, 1.0, 1.0, 1.0, 1.0),
        ),
        assigner=dict(
            type="RotatedMaxIoUAssigner",
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            allow_low_quality_matches=True,
        ),
        loss_cls=dict(type="FocalLoss", alpha=0.25, gamma=2.0, loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.1, topk_candidates=2000, max_per_img=2000),
    ),
)
