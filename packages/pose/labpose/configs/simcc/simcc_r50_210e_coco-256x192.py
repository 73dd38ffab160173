# SimCC (Li et al. 2022) with ResNet-50: the last stage's 8x6 map, a 1x1 conv per
# keypoint, then a linear classifier per axis into 2 bins per pixel (384 x, 512 y bins);
# Gaussian labels (sigma 6 bins), KL-divergence loss; 210 epochs of COCO at 256x192.
_base_ = [
    "../_base_/datasets/coco_keypoints.py",
    "../_base_/schedules/schedule_210e.py",
    "../_base_/default_runtime.py",
]

codec = dict(type="SimCCLabel", input_size=(192, 256), sigma=6.0, simcc_split_ratio=2.0)

model = dict(
    type="TopdownPoseEstimator",
    backbone=dict(
        type="ResNet",
        depth=50,
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet50_8xb32_in1k", prefix="backbone."
        ),
    ),
    head=dict(
        type="SimCCHead",
        in_channels=2048,
        out_channels=17,
        in_featuremap_size=(6, 8),
        input_size=(192, 256),
        simcc_split_ratio=2.0,
        loss=dict(type="KLDiscretLoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True),
)
