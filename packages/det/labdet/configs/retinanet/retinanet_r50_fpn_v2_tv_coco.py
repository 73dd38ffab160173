# torchvision's retinanet_resnet50_fpn_v2, layer for layer: a BatchNorm ResNet-50 (kept in
# eval mode), P6 computed from C5, GroupNorm towers whose convs have no bias, and GIoU on
# decoded boxes. Loads torchvision's v2 weights through
# labdet.models.convert.convert_torchvision_detector.
_base_ = ["./retinanet_r50_fpn_tv_coco.py"]

model = dict(
    backbone=dict(norm_cfg=dict(type="BN"), norm_eval=True),
    neck=dict(in_channels=[512, 1024, 2048], extra_source="input"),
    bbox_head=dict(
        num_groups=32,
        conv_bias=False,
        reg_decoded_bbox=True,
        loss_bbox=dict(_delete_=True, type="GIoULoss", loss_weight=1.0),
    ),
)
