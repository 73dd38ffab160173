# cascade-mask-rcnn_r50_fpn_ms-3x_coco on ResNet-101, as MMDetection's
# cascade-mask-rcnn_r101_fpn_ms-3x_coco.
_base_ = ["./cascade-mask-rcnn_r50_fpn_ms-3x_coco.py"]

model = dict(
    backbone=dict(
        depth=101,
        # torchvision's ImageNet ResNet-101, as MMDetection uses
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet101"),
    )
)
