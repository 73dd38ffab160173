_base_ = ["./retinanet_r50_fpn_1x_coco.py"]

model = dict(
    backbone=dict(
        depth=101,
        # OpenLab has no ImageNet ResNet-101 config: torchvision's weights, as MMDetection uses
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet101"),
    )
)
