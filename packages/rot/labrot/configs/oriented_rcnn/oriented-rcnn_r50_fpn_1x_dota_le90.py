# Oriented R-CNN R50-FPN on DOTA v1.0, 1x, le90 boxes (MMRotate's
# oriented-rcnn-le90_r50_fpn_1x_dota: 75.69 mAP on the test set).
_base_ = [
    "../_base_/models/oriented-rcnn_r50_fpn.py",
    "../_base_/datasets/dota.py",
    "../_base_/schedules/schedule_1x.py",
    "../_base_/default_runtime.py",
]

default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=3))
