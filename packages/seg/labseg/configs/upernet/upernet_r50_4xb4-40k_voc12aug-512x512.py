# upernet_r50 on voc12aug (40k iterations, 4 GPUs x batch 4, 512x512 crops), as
# MMSegmentation's upernet_r50_4xb4-40k_voc12aug-512x512.
_base_ = [
    "../_base_/models/upernet_r50.py",
    "../_base_/datasets/pascal_voc12_aug.py",
    "../_base_/schedules/schedule_40k.py",
]

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21),
)
