# RTMDet-l, MMDetection's rtmdet_l_8xb32-300e_coco: the model (52.3M parameters), AdamW lr 0.004
# (weight decay 0.05, none on norms and biases) for 8 x 32 images, linear warm-up over 1000
# iterations, cosine decay to 5 % over the second half, an exponential moving average of the
# weights (momentum 0.0002, buffers too) that is what gets evaluated and saved, 640x640 inputs.
#
# Training augmentation as protocol coco-300e's recipe rtmdet-l fixes it (MMDetection's): cached
# Mosaic (40 images), random resize of the 1280x1280 mosaic by 0.1-2.0, a 640 crop, YOLOX HSV
# jitter, flip, padding to 640 with 114, cached MixUp (20 images); from epoch 280 on,
# PipelineSwitchHook drops Mosaic and MixUp. Workers are not persistent, so every epoch starts
# with empty caches and a resumed run sees the images an uninterrupted one does.
# MMDetection's ExpMomentumEMA warms its momentum up over the first few thousand iterations;
# MMEngine's ExponentialMovingAverage here keeps it at 0.0002 from the start (the starting
# weights' share of the average is e^-27 after 300 epochs). MMDetection also validates every
# epoch of the last 20; here every 10 epochs, as the protocol's budget says.
_base_ = [
    "../_base_/models/rtmdet_l.py",
    "../_base_/datasets/coco_detection.py",
    "../_base_/default_runtime.py",
]

protocol_recipe = "rtmdet-l"  # coco-300e's recipes name each model size's augmentation
jitter_ratio = (0.1, 2.0)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(
        type="CachedMosaic",
        img_scale=(640, 640),
        pad_val=114.0,
        max_cached_images=40,
        random_pop=True,
    ),
    dict(type="DetRandomResize", scale=(1280, 1280), ratio_range=jitter_ratio, keep_ratio=True),
    dict(type="DetRandomCrop", crop_size=(640, 640)),
    dict(type="YOLOXHSVRandomAug"),
    dict(type="DetRandomFlip", prob=0.5),
    dict(type="DetPad", size=(640, 640), pad_value=114),
    dict(
        type="CachedMixUp",
        img_scale=(640, 640),
        ratio_range=(1.0, 1.0),
        pad_val=114.0,
        max_cached_images=20,
        random_pop=True,
        prob=1.0,
    ),
    dict(type="PackDetInputs"),
]
train_pipeline_stage2 = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(type="DetRandomResize", scale=(640, 640), ratio_range=jitter_ratio, keep_ratio=True),
    dict(type="DetRandomCrop", crop_size=(640, 640)),
    dict(type="YOLOXHSVRandomAug"),
    dict(type="DetRandomFlip", prob=0.5),
    dict(type="DetPad", size=(640, 640), pad_value=114),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(type="DetResize", scale=(640, 640), keep_ratio=True),
    dict(type="DetPad", size=(640, 640), pad_value=114),
    dict(type="PackDetInputs"),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=10,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline),
)
val_dataloader = dict(batch_size=5, num_workers=10, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 300
base_lr = 0.004
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-5, by_epoch=False, begin=0, end=1000),
    dict(
        type="CosineAnnealingLR",
        eta_min=base_lr * 0.05,
        begin=max_epochs // 2,
        end=max_epochs,
        T_max=max_epochs // 2,
        by_epoch=True,
        convert_to_iter_based=True,
    ),
]
auto_scale_lr = dict(enable=False, base_batch_size=256)

custom_hooks = [
    dict(
        type="EMAHook",
        ema_type="ExponentialMovingAverage",
        momentum=0.0002,
        update_buffers=True,
        priority=49,
    ),
    dict(type="PipelineSwitchHook", switch_epoch=280, switch_pipeline=train_pipeline_stage2),
]
