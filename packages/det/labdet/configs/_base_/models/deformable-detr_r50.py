# Deformable DETR R-50 (MMDetection's deformable-detr_r50_16xb2-50e_coco model): ResNet-50
# C3-C5 mapped to 256 channels with GroupNorm plus a strided C5 level (4 levels), 6 encoder
# and 6 decoder layers of 8-head, 4-point deformable attention, 300 queries; sigmoid focal
# (weight 2), L1 (5) and GIoU (2) losses on one-to-one Hungarian matches with the same
# cost weights; the top 100 of queries x classes at test time.
model = dict(
    type="DeformableDETR",
    num_queries=300,
    num_feature_levels=4,
    with_box_refine=False,
    as_two_stage=False,
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,
        pad_size_divisor=1,
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
        type="ChannelMapper",
        in_channels=[512, 1024, 2048],
        out_channels=256,
        kernel_size=1,
        num_outs=4,
        num_groups=32,
    ),
    encoder=dict(
        type="DeformableDetrTransformerEncoder",
        num_layers=6,
        layer_cfg=dict(
            self_attn=dict(embed_dims=256, num_heads=8, num_levels=4, num_points=4, dropout=0.1),
            ffn=dict(feedforward_channels=1024, ffn_drop=0.1),
        ),
    ),
    decoder=dict(
        type="DeformableDetrTransformerDecoder",
        num_layers=6,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn=dict(num_heads=8, dropout=0.1),
            cross_attn=dict(embed_dims=256, num_heads=8, num_levels=4, num_points=4, dropout=0.1),
            ffn=dict(feedforward_channels=1024, ffn_drop=0.1),
        ),
    ),
    positional_encoding=dict(
        type="SinePositionalEncoding", num_feats=128, normalize=True, offset=-0.5
    ),
    bbox_head=dict(
        type="DeformableDETRHead",
        num_classes=80,
        embed_dims=256,
        assigner=dict(
            type="HungarianAssigner",
            match_costs=[
                dict(type="FocalLossCost", weight=2.0),
                dict(type="BBoxL1Cost", weight=5.0),
                dict(type="GIoUCost", weight=2.0),
            ],
        ),
        loss_cls=dict(type="FocalLoss", alpha=0.25, gamma=2.0, loss_weight=2.0),
        loss_bbox=dict(type="L1Loss", loss_weight=5.0),
        loss_iou=dict(type="GIoULoss", loss_weight=2.0),
        test_cfg=dict(max_per_img=100),
    ),
)
