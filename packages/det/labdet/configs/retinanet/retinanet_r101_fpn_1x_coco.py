_base_ = ["./retinanet_r50_fpn_1x_coco.py"]

model = dict(backbone=dict(depth=101))
