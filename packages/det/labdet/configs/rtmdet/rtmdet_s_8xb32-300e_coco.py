# RTMDet-s, MMDetection's rtmdet_s_8xb32-300e_coco (8.89M parameters): RTMDet-l at depth 0.33
# and width 0.5, a 128-channel neck of one-block CSP layers, distances regressed directly.
# MMDetection starts its backbone from CSPNeXt-s ImageNet weights (its own RSB-A1 600-epoch
# training), which OpenLab does not have yet: this config trains from scratch. The same
# recipe and the same missing augmentation (here jitter 0.5-2.0) as
# rtmdet_l_8xb32-300e_coco.py.
_base_ = ["./rtmdet_l_8xb32-300e_coco.py"]

model = dict(
    backbone=dict(deepen_factor=0.33, widen_factor=0.5),
    neck=dict(in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1),
    bbox_head=dict(in_channels=128, feat_channels=128, exp_on_reg=False),
)
