# HRNet-W48 (Sun et al. 2019) top-down: the highest-resolution branch (48 channels,
# stride 4) and a 1x1 conv to 17 heatmaps at 64x48, no deconvolution; flip test; 210
# epochs of COCO at 256x192 with Adam 5e-4. The backbone starts from OpenMMLab's
# ImageNet HRNet-W48 (its classification-only layers are not loaded).
_base_ = [
    "../_base_/datasets/coco_keypoints.py",
    "../_base_/schedules/schedule_210e.py",
    "../_base_/default_runtime.py",
]

# The target encoding (and decoding) of the head.
codec = dict(type="MSRAHeatmap", input_size=(192, 256), heatmap_size=(48, 64), sigma=2.0)

model = dict(
    type="TopdownPoseEstimator",
    backbone=dict(
        type="HRNet",
        width=48,
        init_cfg=dict(
            type="Pretrained",
            checkpoint="https://download.openmmlab.com/mmpose/pretrain_models/hrnet_w48-8ef0771d.pth",
        ),
    ),
    head=dict(
        type="HeatmapHead",
        in_channels=48,
        out_channels=17,
        deconv_out_channels=(),
        deconv_kernel_sizes=(),
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True, shift_heatmap=True),
)
