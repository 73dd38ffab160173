# A tiny Oriented R-CNN for the CPU: labdet's tiny Faster R-CNN layout (ResNet-18 at 1/4 width
# from the classification zoo, FPN P2-P6 of 64 channels, RPN anchors for 10-64 px shapes,
# 200 proposals per level, 64 RoIs per image, a 256-wide box head) on the rotated shapes set, le90 boxes;
# 600 iterations of 8 images (AdamW, cosine).
_base_ = [
    "../_base_/models/oriented-rcnn_r50_fpn.py",
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
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type="BN"),
        # the classification zoo's tiny ResNet-18 (same widths), trained on the shapes set
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet18_tiny_shapes", prefix="backbone."
        ),
    ),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        anchor_generator=dict(sizes=[[8], [16], [32], [64], [128]]),
        # few proposals: rotated NMS costs the square of their number on the CPU
        train_cfg=dict(pre_nms_top_n=200, post_nms_top_n=200),
        test_cfg=dict(pre_nms_top_n=200, post_nms_top_n=100),
    ),
    roi_head=dict(
        num_classes=8,
        box_head=dict(in_channels=64 * 7 * 7, representation_size=256),
        box_predictor=dict(in_channels=256, num_classes=8),
        sampler=dict(num=64),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.3, max_per_img=100),
    ),
)

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="CheckpointHook", interval=600, by_epoch=False),
)
log_processor = dict(by_epoch=False)
