# Wide ResNet-50-2 on ImageNet-1k: 8 GPUs x 32 images, SGD, 100 epochs.
_base_ = [
    "../_base_/models/wide-resnet50.py",
    "../_base_/datasets/imagenet_bs32.py",
    "../_base_/schedules/imagenet_bs256.py",
    "../_base_/default_runtime.py",
]
