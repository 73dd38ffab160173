# A short CPU schedule for the tiny shapes configs: AdamW, linear warm-up, poly decay,
# counted in iterations. 800 iterations of 8 images: the budget of seg-shapes-tiny.
# (It brings labseg's runtime defaults, whose hooks it sets.)
_base_ = ["../default_runtime.py"]

max_iters = 800
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type="PolyLR", power=0.9, eta_min=1e-5, by_epoch=False, begin=30, end=max_iters),
]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.003, weight_decay=0.0001),
    clip_grad=dict(max_norm=10.0, norm_type=2),
)

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="CheckpointHook", interval=max_iters, by_epoch=False),
)
