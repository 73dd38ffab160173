# pspnet_r50-d8 on ade20k (80k iterations, 4 GPUs x batch 4, 512x512 crops), as
# MMSegmentation's pspnet_r50-d8_4xb4-80k_ade20k-512x512.
_base_ = [
    "../_base_/models/pspnet_r50-d8.py",
    "../_base_/datasets/ade20k.py",
    "../_base_/schedules/schedule_80k.py",
]

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
)
