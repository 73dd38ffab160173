# SimpleBaseline (Xiao et al. 2018) for the CPU: ResNet-18 at 1/4 width up to its third
# stage (stride 16: a 4x4 map of the 64x64 crop, which keeps more of the shape than the
# 2x2 map of stride 32), then deconvolutions of 64, 64 and 32 channels (4x4, 4x4, 2x2) to
# 32x32 heatmaps, DARK heatmaps, flip test. Trains in the pose-shapes-tiny budget.
#
# Heatmaps at stride 2 rather than the usual 4: the extremal keypoints of a shape lie on
# its box, 1.6 pixels inside a 16x16 heatmap, where DARK's refinement (two pixels either
# side) does not reach the right and bottom ones, and one 16x16 heatmap pixel is 2.5-6
# image pixels where a keypoint of a median shape keeps an OKS of 0.75 within 1.9. OKS AP
# on the val split with ground-truth boxes, seeds 0 / 1 / 2: 0.59 / 0.55 / 0.60 (16x16
# heatmaps with Adam 4e-3: 0.43 for seed 0).
_base_ = [
    "../_base_/datasets/shapes_keypoints.py",
    "../_base_/schedules/schedule_tiny.py",
    "../_base_/default_runtime.py",
]

# The target encoding (and decoding) of the head.
codec = dict(
    type="MSRAHeatmap",
    input_size=(64, 64),
    heatmap_size=(32, 32),
    sigma=2.0,
    unbiased=True,
    blur_kernel_size=11,
)

model = dict(
    type="TopdownPoseEstimator",
    backbone=dict(type="ResNet", depth=18, stem_channels=16, base_channels=16, out_indices=(2,)),
    head=dict(
        type="HeatmapHead",
        in_channels=64,
        out_channels=5,
        deconv_out_channels=(64, 64, 32),
        deconv_kernel_sizes=(4, 4, 2),
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True, shift_heatmap=True),
)

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="CheckpointHook", interval=400, by_epoch=False, save_best=None),
)
log_processor = dict(by_epoch=False)
