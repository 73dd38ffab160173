# ViT-B/16 for ImageNet-1k (ViT-B and DeiT-B sizes): ViT-S/16's classifier, 768 channels,
# without the pre-logits layer of the original ViT's from-scratch training.
_base_ = ["vit-small-p16.py"]

model = dict(backbone=dict(arch="base"), head=dict(in_channels=768))
