# RTMDet-l (MMDetection's rtmdet_l_8xb32-300e_coco): CSPNeXt P5 at depth and width 1, a
# CSPNeXtPAFPN of 256 channels on strides 8, 16, 32, a head of two shared 3x3 convs with
# per-level batch norms, log-distance regression; dynamic soft-label assignment, quality
# focal + GIoU (x2) losses. SyncBN (momentum 0.1, eps 1e-5) and SiLU throughout.
norm_cfg = dict(type="SyncBN")
act_cfg = dict(type="SiLU", inplace=True)
model = dict(
    type="RTMDet",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        # MMDetection's BGR mean and std, in the RGB order in which labdet loads images
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,
        pad_size_divisor=32,
    ),
    backbone=dict(
        type="CSPNeXt",
        arch="P5",
        expand_ratio=0.5,
        deepen_factor=1.0,
        widen_factor=1.0,
        channel_attention=True,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
    ),
    neck=dict(
        type="CSPNeXtPAFPN",
        in_channels=[256, 512, 1024],
        out_channels=256,
        num_csp_blocks=3,
        expand_ratio=0.5,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
    ),
    bbox_head=dict(
        type="RTMDetSepBNHead",
        num_classes=80,
        in_channels=256,
        feat_channels=256,
        stacked_convs=2,
        strides=[8, 16, 32],
        exp_on_reg=True,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
        assigner=dict(type="DynamicSoftLabelAssigner", topk=13),
        loss_cls=dict(type="QualityFocalLoss", beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=2.0),
        # MMDetection's test_cfg: nms_pre 30000 per level, score > 0.001, NMS 0.65, 300 kept
        test_cfg=dict(score_thr=0.001, nms_iou_thr=0.65, topk_candidates=30000, max_per_img=300),
    ),
)
