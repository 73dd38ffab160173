# SegFormer MiT-B0 on ADE20K (160k iterations, 8 GPUs x batch 2), as MMSegmentation's
# segformer_mit-b0_8xb2-160k_ade20k-512x512: AdamW lr 6e-5 (head x10), warm-up then poly.
_base_ = [
    "../_base_/models/segformer_mit-b0.py",
    "../_base_/datasets/ade20k.py",
    "../_base_/schedules/schedule_160k.py",
]

crop_size = (512, 512)
model = dict(data_preprocessor=dict(size=crop_size), decode_head=dict(num_classes=150))
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
# MMSegmentation's global batch is 16 (8 x 2), the ade20k-160k protocol's: the protocol sets
# the batch per device for the devices a run has.
train_dataloader = dict(num_workers=2)
