# pspnet_r50-d8 on cityscapes (40k iterations, 4 GPUs x batch 2, 512x1024 crops), as
# MMSegmentation's pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.
_base_ = [
    "../_base_/models/pspnet_r50-d8.py",
    "../_base_/datasets/cityscapes.py",
    "../_base_/schedules/schedule_40k.py",
]

crop_size = (512, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=19),
    auxiliary_head=dict(num_classes=19),
)
