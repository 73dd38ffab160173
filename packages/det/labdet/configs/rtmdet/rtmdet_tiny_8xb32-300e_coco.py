# RTMDet-tiny, MMDetection's rtmdet_tiny_8xb32-300e_coco (4.90M parameters, published as 4.8):
# RTMDet-l at depth 0.167 and width 0.375, a 96-channel neck of one-block CSP layers,
# distances regressed directly. MMDetection starts its backbone from CSPNeXt-tiny ImageNet
# weights, which OpenLab does not have yet: this config trains from scratch. The same recipe
# and the same missing augmentation (here jitter 0.5-2.0, MixUp at probability 0.5) as
# rtmdet_l_8xb32-300e_coco.py.
_base_ = ["./rtmdet_l_8xb32-300e_coco.py"]

model = dict(
    backbone=dict(deepen_factor=0.167, widen_factor=0.375),
    neck=dict(in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1),
    bbox_head=dict(in_channels=96, feat_channels=96, exp_on_reg=False),
)
