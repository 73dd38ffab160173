# pspnet_r50-d8 on voc12aug (20k iterations, 4 GPUs x batch 4), as MMSegmentation's
# pspnet_r50-d8_4xb4-20k_voc12aug-512x512.
_base_ = [
    "../_base_/models/pspnet_r50-d8.py",
    "../_base_/datasets/pascal_voc12_aug.py",
    "../_base_/schedules/schedule_20k.py",
]

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21),
)
