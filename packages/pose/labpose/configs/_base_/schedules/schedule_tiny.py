# A short CPU schedule for the tiny shapes configs: Adam with linear warm-up and cosine
# decay, counted in iterations; 400 iterations of 16 boxes: the pose-shapes-tiny budget.
# Peak learning rate 8e-3: the best of 2e-3, 4e-3, 8e-3, 1.2e-2 and 1.6e-2 for
# simplebaseline_r18_shapes with a 4x4 last deconvolution (one run each, seed 2: OKS
# AP 0.47 / 0.56 / 0.59 / 0.46 / 0.57).
max_iters = 400
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=0.008))
