# The cls-shapes-tiny schedule: AdamW, one epoch of linear warm-up then cosine decay,
# 20 epochs of 2000 images (1260 iterations of 32), validating every 5 epochs.
optim_wrapper = dict(optimizer=dict(type="AdamW", lr=3e-3, weight_decay=0.05))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(
        type="CosineAnnealingLR",
        eta_min=1e-5,
        by_epoch=True,
        begin=1,
        end=20,
        convert_to_iter_based=True,
    ),
]

train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
