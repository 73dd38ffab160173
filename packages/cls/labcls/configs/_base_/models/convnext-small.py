# ConvNeXt-S for ImageNet-1k: ConvNeXt-T's classifier, stochastic depth 0.4 as in the
# recipe.
_base_ = ["convnext-tiny.py"]

model = dict(backbone=dict(arch="small", drop_path_rate=0.4))
