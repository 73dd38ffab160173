# ViT-B/16 on ImageNet-1k with the DeiT recipe: 32 GPUs x 128 images, AdamW, 300 epochs,
# Mixup / CutMix, label smoothing, weights averaged by EMA.
_base_ = [
    "../_base_/models/vit-base-p16.py",
    "../_base_/datasets/imagenet_bs64_swin_224.py",
    "../_base_/schedules/imagenet_bs1024_adamw_swin.py",
    "../_base_/default_runtime.py",
]

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)

optim_wrapper = dict(optimizer=dict(lr=4e-3))
auto_scale_lr = dict(base_batch_size=4096)

custom_hooks = [dict(type="EMAHook", momentum=1e-4, priority="ABOVE_NORMAL")]
