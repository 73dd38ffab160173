# A short CPU schedule for the tiny rotated shapes configs (labdet's tiny schedule): AdamW,
# linear warm-up, cosine decay, counted in iterations. 600 iterations of 8 images: the budget
# of the rot-shapes-tiny protocol. (A labdet base would build its loops in labdet's scope,
# which cannot see labrot's data sets, so the few lines live here.)
max_iters = 600
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=50, end=max_iters, eta_min=1e-5),
]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.002, weight_decay=0.0001),
    clip_grad=dict(max_norm=10.0, norm_type=2),
)
