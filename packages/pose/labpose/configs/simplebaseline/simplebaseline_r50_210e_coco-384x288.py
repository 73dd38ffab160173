# SimpleBaseline (Xiao et al. 2018): ResNet-50, three 4x4 deconvolutions of 256 channels,
# 17 heatmaps at 96x72, flip test; 210 epochs of COCO at 384x288 with Adam 5e-4.
_base_ = [
    "../_base_/datasets/coco_keypoints_384x288.py",
    "../_base_/schedules/schedule_210e.py",
    "../_base_/default_runtime.py",
]

# The target encoding (and decoding) of the head.
codec = dict(type="MSRAHeatmap", input_size=(288, 384), heatmap_size=(72, 96), sigma=3.0)

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
        type="HeatmapHead",
        in_channels=2048,
        out_channels=17,
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True, shift_heatmap=True),
)
