# SimpleBaseline (Xiao et al. 2018) for the CPU: ResNet-18 at 1/4 width up to its third
# stage (stride 16: a 4x4 map of the 64x64 crop, which keeps more of the shape than the
# 2x2 map of stride 32), two 4x4 deconvolutions of 64 channels to 16x16 heatmaps, DARK
# heatmaps, flip test. Trains in the pose-shapes-tiny budget.
_base_ = [
    "../_base_/datasets/shapes_keypoints.py",
    "../_base_/schedules/schedule_tiny.py",
    "../_base_/default_runtime.py",
]

# The target encoding (and decoding) of the head.
codec = dict(
    type="MSRAHeatmap",
    input_size=(64, 64),
    heatmap_size=(16, 16),
    sigma=1.5,
    unbiased=True,
    blur_kernel_size=7,
)

model = dict(
    type="TopdownPoseEstimator",
    backbone=dict(type="ResNet", depth=18, stem_channels=16, base_channels=16, out_indices=(2,)),
    head=dict(
        type="HeatmapHead",
        in_channels=64,
        out_channels=5,
        deconv_out_channels=(64, 64),
        deconv_kernel_sizes=(4, 4),
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
