# torchvision's fasterrcnn_resnet50_fpn_v2, layer for layer: a BatchNorm ResNet-50 (kept in
# eval mode), an FPN with BatchNorm after every conv, a two-conv RPN head and the
# four-conv + one-FC box head (ConvFCBoxHead with BatchNorm). Loads torchvision's v2
# weights through labdet.models.convert.convert_torchvision_detector.
_base_ = ["./faster-rcnn_r50_fpn_tv_coco.py"]

model = dict(
    backbone=dict(norm_cfg=dict(type="BN"), norm_eval=True),
    neck=dict(norm_cfg=dict(type="BN")),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        box_head=dict(
            _delete_=True,
            type="ConvFCBoxHead",
            in_channels=256,
            roi_size=7,
            conv_channels=[256, 256, 256, 256],
            fc_channels=[1024],
            norm_cfg=dict(type="BN"),
        ),
    ),
)
