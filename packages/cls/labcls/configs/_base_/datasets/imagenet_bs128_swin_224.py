# The Swin / ConvNeXt / DeiT ImageNet pipeline (imagenet_bs64_swin_224.py) with 128 images
# per GPU.
_base_ = ["imagenet_bs64_swin_224.py"]

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)
