# ViT-T/16 for ImageNet-1k (DeiT-Ti sizes): ViT-S/16's classifier, 192 channels.
_base_ = ["vit-small-p16.py"]

model = dict(backbone=dict(arch="tiny"), head=dict(in_channels=192))
