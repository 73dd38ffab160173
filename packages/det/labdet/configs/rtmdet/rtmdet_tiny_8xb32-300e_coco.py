# RTMDet-tiny, MMDetection's rtmdet_tiny_8xb32-300e_coco (4.90M parameters, published as 4.8):
# RTMDet-l at depth 0.167 and width 0.375, a 96-channel neck of one-block CSP layers,
# distances regressed directly. MMDetection starts its backbone from CSPNeXt-tiny ImageNet
# weights, which OpenLab does not have yet: this config trains from scratch. RTMDet-l's
# schedule; augmentation as protocol coco-300e's recipe rtmdet-tiny: jitter over 0.5-2.0,
# Mosaic from a cache of 20 images and MixUp from one of 10 (both first in, first out), MixUp
# on half of the images.
_base_ = ["./rtmdet_l_8xb32-300e_coco.py"]

model = dict(
    backbone=dict(deepen_factor=0.167, widen_factor=0.375),
    neck=dict(in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1),
    bbox_head=dict(in_channels=96, feat_channels=96, exp_on_reg=False),
)

protocol_recipe = "rtmdet-tiny"
jitter_ratio = (0.5, 2.0)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadDetAnnotations", with_mask=False),
    dict(
        type="CachedMosaic",
        img_scale=(640, 640),
        pad_val=114.0,
        max_cached_images=20,
        random_pop=False,
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
        max_cached_images=10,
        random_pop=False,
        prob=0.5,
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
