# torchvision's fcos_resnet50_fpn, layer for layer: 91 sigmoid classes and its test settings.
_base_ = ["./fcos_r50_fpn_1x_coco.py"]

model = dict(
    # torchvision's detection recipe: its ImageNet ResNet-50 weights
    backbone=dict(
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet50")
    ),
    bbox_head=dict(num_classes=91),
)
