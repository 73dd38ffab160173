_base_ = ["./mask-rcnn_r50_fpn_1x_coco.py"]

model = dict(backbone=dict(type="ResNeXt", depth=101, groups=32, width_per_group=4))
