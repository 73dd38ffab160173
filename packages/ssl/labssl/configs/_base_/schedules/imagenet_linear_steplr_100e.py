# MoCo's linear-probe recipe: SGD lr 30 (batch 256), momentum 0.9, no weight decay, 100
# epochs, learning rate x0.1 at epochs 60 and 80.
optim_wrapper = dict(optimizer=dict(type="SGD", lr=30.0, momentum=0.9, weight_decay=0.0))
param_scheduler = [dict(type="MultiStepLR", by_epoch=True, milestones=[60, 80], gamma=0.1)]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=25)
