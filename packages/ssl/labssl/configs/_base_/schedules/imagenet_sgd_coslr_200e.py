# MoCo v2's schedule: SGD lr 0.03 (batch 256), momentum 0.9, weight decay 1e-4, cosine
# decay over 200 epochs.
optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.03, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type="CosineAnnealingLR", T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=200)
