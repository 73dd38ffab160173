# cascade-rcnn_r50_fpn_1x_coco on the 20e schedule (20 epochs, lr x0.1 after epochs
# 16 and 19), as MMDetection's cascade-rcnn_r50_fpn_20e_coco.
_base_ = ["./cascade-rcnn_r50_fpn_1x_coco.py"]

train_cfg = dict(max_epochs=20)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", begin=0, end=20, by_epoch=True, milestones=[16, 19], gamma=0.1),
]
