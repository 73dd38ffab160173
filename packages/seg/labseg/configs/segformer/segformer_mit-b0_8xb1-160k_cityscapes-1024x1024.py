# SegFormer MiT-B0 on Cityscapes (160k iterations, 8 GPUs x batch 1, 1024x1024 crops), as
# MMSegmentation's segformer_mit-b0_8xb1-160k_cityscapes-1024x1024: AdamW lr 6e-5 (head x10),
# warm-up then poly; tested in 1024x1024 windows every 768 px.
_base_ = [
    "../_base_/models/segformer_mit-b0.py",
    "../_base_/datasets/cityscapes_1024x1024.py",
    "../_base_/schedules/schedule_160k.py",
]

crop_size = (1024, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=19),
    test_cfg=dict(mode="slide", crop_size=crop_size, stride=(768, 768)),
)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys=dict(norm=dict(decay_mult=0.0), head=dict(lr_mult=10.0))),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_dataloader = dict(batch_size=1, num_workers=4)
