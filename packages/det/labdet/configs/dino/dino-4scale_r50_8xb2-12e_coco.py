# DINO-4scale R-50 on the 12-epoch schedule (protocol coco-detr-12e): AdamW lr 1e-4 for a batch of
# 16, backbone lr x0.1, gradient norm clipped at 0.1, lr x0.1 after epoch 11.
_base_ = [
    "../_base_/models/dino-4scale_r50.py",
    "../_base_/datasets/coco_detection_detr.py",
    "../_base_/default_runtime.py",
]

train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=12, val_interval=1)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

param_scheduler = [
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[11], gamma=0.1),
]

optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0001, weight_decay=0.0001),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(custom_keys={"backbone": dict(lr_mult=0.1)}),
)

auto_scale_lr = dict(enable=False, base_batch_size=16)
