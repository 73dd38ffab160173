_base_ = ["./retinanet_r50_fpn_1x_coco.py"]

model = dict(backbone=dict(depth=18), neck=dict(in_channels=[128, 256, 512]))
