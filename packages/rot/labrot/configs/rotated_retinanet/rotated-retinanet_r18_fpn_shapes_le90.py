# A tiny Rotated RetinaNet for the CPU: labdet's tiny RetinaNet layout (ResNet-18 at 1/4 width
# from the classification zoo, FPN P3-P5 of 64 channels, two-conv towers with GroupNorm,
# anchors for 10-64 px shapes in 128 px images) on the rotated shapes set, le90 boxes;
# 600 iterations of 8 images (AdamW, cosine).
_base_ = [
    "../_base_/models/rotated-retinanet_r50_fpn.py",
    "../_base_/datasets/shapes_rot.py",
    "../_base_/schedules/schedule_tiny.py",
    "../_base_/default_runtime.py",
]

model = dict(
    backbone=dict(
        _delete_=True,
        type="ResNet",
        depth=18,
        stem_channels=16,
        base_channels=16,
        out_indices=(1, 2, 3),
        norm_cfg=dict(type="BN"),
        # the classification zoo's tiny ResNet-18 (same widths), trained on the shapes set
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet18_tiny_shapes", prefix="backbone."
        ),
    ),
    neck=dict(in_channels=[32, 64, 128], out_channels=64, extra_levels="none"),
    bbox_head=dict(
        num_classes=8,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        num_groups=16,
        anchor_generator=dict(
            sizes=[[12, 16, 20], [24, 32, 40], [48, 64, 80]],
            aspect_ratios=[[0.5, 1.0, 2.0]] * 3,
            strides=[8, 16, 32],
        ),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.3, topk_candidates=1000, max_per_img=100),
    ),
)

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="CheckpointHook", interval=600, by_epoch=False),
)
log_processor = dict(by_epoch=False)
