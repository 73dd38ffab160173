# ConvNeXt-B for ImageNet-1k: ConvNeXt-T's classifier, 1024 channels, stochastic depth 0.5
# as in the recipe.
_base_ = ["convnext-tiny.py"]

model = dict(backbone=dict(arch="base", drop_path_rate=0.5), head=dict(in_channels=1024))
