# deeplabv3_r50-d8 on cityscapes (80k iterations, 4 GPUs x batch 2, 769x769 crops), as
# MMSegmentation's deeplabv3_r50-d8_4xb2-80k_cityscapes-769x769.
# The heads upsample with align_corners=True; tested in 769x769 windows every 513 px.
_base_ = [
    "../_base_/models/deeplabv3_r50-d8.py",
    "../_base_/datasets/cityscapes_769x769.py",
    "../_base_/schedules/schedule_80k.py",
]

crop_size = (769, 769)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=19, align_corners=True),
    auxiliary_head=dict(num_classes=19, align_corners=True),
    test_cfg=dict(mode="slide", crop_size=crop_size, stride=(513, 513)),
)
