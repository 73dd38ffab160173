# upernet_r50 on cityscapes (80k iterations, 4 GPUs x batch 2), as MMSegmentation's
# upernet_r50_4xb2-80k_cityscapes-512x1024.
_base_ = [
    "../_base_/models/upernet_r50.py",
    "../_base_/datasets/cityscapes.py",
    "../_base_/schedules/schedule_80k.py",
]

crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=19),
    auxiliary_head=dict(num_classes=19),
)
