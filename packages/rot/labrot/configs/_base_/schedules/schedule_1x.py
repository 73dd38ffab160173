# The DOTA 1x schedule: 12 epochs of SGD (lr 0.01 for a total batch of 8 = 4 devices x 2
# patches, MMRotate's 0.0025 per 2 images scaled linearly), linear warm-up over 500
# iterations from a third, lr x0.1 after epochs 8 and 11, gradients clipped at norm 35.
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=12, val_interval=12)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

param_scheduler = [
    dict(type="LinearLR", start_factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2),
)
auto_scale_lr = dict(enable=False, base_batch_size=8)
