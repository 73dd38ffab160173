# RTMDet-s, MMDetection's rtmdet_s_8xb32-300e_coco (8.89M parameters): RTMDet-l at depth 0.33
# and width 0.5, a 128-channel neck of one-block CSP layers, distances regressed directly.
# MMDetection starts its backbone from CSPNeXt-s ImageNet weights (its own RSB-A1 600-epoch
# training), which OpenLab does not have yet: this config trains from scratch. RTMDet-l's
# schedule; augmentation as protocol coco-300e's recipe rtmdet-s: the large-scale jitter over
# 0.5-2.0 instead of 0.1-2.0, the same in the last 20 epochs.
_base_ = ["./rtmdet_l_8xb32-300e_coco.py"]

model = dict(
    backbone=dict(deepen_factor=0.33, widen_factor=0.5),
    neck=dict(in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1),
    bbox_head=dict(in_channels=128, feat_channels=128, exp_on_reg=False),
)

protocol_recipe = "rtmdet-s"
jitter_ratio = (0.5, 2.0)
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
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
