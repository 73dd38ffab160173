# An RTMDet-tiny-like detector for the CPU: CSPNeXt at width 0.125 and depth 0.167 (one block
# per CSP layer; stages of 16, 32, 64 and 128 channels), a 32-channel CSPNeXtPAFPN on strides 8,
# 16, 32, the head's two shared convs of 32 channels with log-distance regression (exp_on_reg,
# as RTMDet-l: boxes start a stride wide, so the IoU-weighted losses have something to grow
# from); plain BN, trained from scratch (shapes are 10-64 px on 128x128 images). AdamW at
# lr 0.01, no weight decay on norms and biases.
_base_ = [
    "../_base_/models/rtmdet_l.py",
    "../_base_/datasets/shapes_det.py",
    "../_base_/schedules/schedule_tiny.py",
    "../_base_/default_runtime.py",
]

norm_cfg = dict(type="BN", momentum=0.03, eps=0.001)
model = dict(
    backbone=dict(deepen_factor=0.167, widen_factor=0.125, norm_cfg=norm_cfg),
    neck=dict(in_channels=[32, 64, 128], out_channels=32, num_csp_blocks=1, norm_cfg=norm_cfg),
    bbox_head=dict(
        num_classes=8,
        in_channels=32,
        feat_channels=32,
        exp_on_reg=True,
        norm_cfg=norm_cfg,
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.6, topk_candidates=1000, max_per_img=100),
    ),
)
optim_wrapper = dict(
    optimizer=dict(lr=0.01, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0),
)

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="CheckpointHook", interval=600, by_epoch=False),
)
log_processor = dict(by_epoch=False)
