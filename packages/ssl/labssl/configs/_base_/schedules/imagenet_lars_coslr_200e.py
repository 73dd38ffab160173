# SimCLR's and BYOL's schedule at a batch of 4096 (16 x 256): LARS lr 4.8 (0.3 x 4096 /
# 256), momentum 0.9, biases and BatchNorm excluded from adaptation and decay; 10 epochs
# of linear warm-up, then cosine decay to 200 epochs. Methods set their weight decay.
optim_wrapper = dict(
    optimizer=dict(type="LARS", lr=4.8, momentum=0.9, weight_decay=1e-6),
    paramwise_cfg=dict(
        custom_keys={
            "bn": dict(decay_mult=0, lars_exclude=True),
            "bias": dict(decay_mult=0, lars_exclude=True),
            "downsample.1": dict(decay_mult=0, lars_exclude=True),
        }
    ),
)
param_scheduler = [
    dict(
        type="LinearLR",
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True,
    ),
    dict(type="CosineAnnealingLR", T_max=190, by_epoch=True, begin=10, end=200),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=200)
