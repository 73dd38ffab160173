# The ssl-shapes-tiny-pretrain schedule: 4 epochs of 2000 images at batch 32 (248
# iterations), cosine decay from the optimizer's learning rate, k-NN at the end.
param_scheduler = [
    dict(type="CosineAnnealingLR", T_max=4, eta_min=0.0, by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=4)
