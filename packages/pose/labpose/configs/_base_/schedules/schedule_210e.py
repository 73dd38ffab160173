# The SimpleBaseline / HRNet COCO schedule: 210 epochs, Adam lr 5e-4 for a total batch of
# 256 (8 x 32 in the papers, 8 x 64 in MMPose's lr-equivalent recipe), 500 iterations of
# linear warm-up, lr x0.1 after epochs 170 and 200.
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=210, val_interval=10)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=5e-4))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", begin=0, end=210, by_epoch=True, milestones=[170, 200], gamma=0.1),
]
auto_scale_lr = dict(enable=False, base_batch_size=512)
