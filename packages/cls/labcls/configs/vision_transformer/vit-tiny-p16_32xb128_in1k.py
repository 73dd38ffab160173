# ViT-T/16 on ImageNet-1k with the DeiT recipe: 32 GPUs x 128 images, AdamW, 300 epochs,
# Mixup / CutMix, label smoothing, weights averaged by EMA.
_base_ = [
    "../_base_/models/vit-tiny-p16.py",
    "../_base_/datasets/imagenet_bs128_swin_224.py",
    "../_base_/schedules/imagenet_bs4096_adamw_swin.py",
    "../_base_/default_runtime.py",
]

custom_hooks = [dict(type="EMAHook", momentum=1e-4, priority="ABOVE_NORMAL")]
