# cascade-mask-rcnn_r50_fpn_1x_coco on the 3x schedule (protocol coco-3x): 36 epochs, lr x0.1
# after epochs 27 and 33.
_base_ = ["./cascade-mask-rcnn_r50_fpn_1x_coco.py"]

train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
