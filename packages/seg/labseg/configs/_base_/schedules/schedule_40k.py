# MMSegmentation's 40k schedule: SGD lr 0.01 (momentum 0.9, weight decay 5e-4) for a
# global batch of 16, poly decay (power 0.9) to 1e-4 over 40,000 iterations; validation
# and a checkpoint every 4,000.
# (It brings labseg's runtime defaults, whose hooks it sets.)
_base_ = ["../default_runtime.py"]

max_iters = 40000
interval = 4000
optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type="OptimWrapper", optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=interval)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=interval, max_keep_ckpts=3),
)
