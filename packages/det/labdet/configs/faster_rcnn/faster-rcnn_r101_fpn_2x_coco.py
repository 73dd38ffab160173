# faster-rcnn_r50_fpn_2x_coco on ResNet-101, as MMDetection's
# faster-rcnn_r101_fpn_2x_coco.
_base_ = ["./faster-rcnn_r50_fpn_2x_coco.py"]

model = dict(
    backbone=dict(
        depth=101,
        # torchvision's ImageNet ResNet-101, as MMDetection uses
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet101"),
    )
)
