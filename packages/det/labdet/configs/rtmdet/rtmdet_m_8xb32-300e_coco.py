# RTMDet-m, MMDetection's rtmdet_m_8xb32-300e_coco (24.71M parameters): RTMDet-l at depth 0.67
# and width 0.75, a 192-channel neck of two-block CSP layers, distances regressed directly.
# RTMDet-l's schedule and augmentation (protocol coco-300e's recipe rtmdet-l), as MMDetection's.
_base_ = ["./rtmdet_l_8xb32-300e_coco.py"]

model = dict(
    backbone=dict(deepen_factor=0.67, widen_factor=0.75),
    neck=dict(in_channels=[192, 384, 768], out_channels=192, num_csp_blocks=2),
    bbox_head=dict(in_channels=192, feat_channels=192, exp_on_reg=False),
)
