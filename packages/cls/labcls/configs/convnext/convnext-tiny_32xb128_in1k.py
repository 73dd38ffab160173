# ConvNeXt-T on ImageNet-1k: 32 GPUs x 128 images, AdamW, 300 epochs, Mixup / CutMix,
# weights averaged by EMA.
_base_ = [
    "../_base_/models/convnext-tiny.py",
    "../_base_/datasets/imagenet_bs128_swin_224.py",
    "../_base_/schedules/imagenet_bs4096_adamw_swin.py",
    "../_base_/default_runtime.py",
]

custom_hooks = [dict(type="EMAHook", momentum=1e-4, priority="ABOVE_NORMAL")]
