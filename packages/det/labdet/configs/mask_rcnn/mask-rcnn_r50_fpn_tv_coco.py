# torchvision's maskrcnn_resnet50_fpn, layer for layer: 90 object classes + background.
_base_ = ["./mask-rcnn_r50_fpn_1x_coco.py"]

model = dict(
    # torchvision's detection recipe: its ImageNet ResNet-50 weights
    backbone=dict(
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet50")
    ),
    roi_head=dict(
        num_classes=90, box_predictor=dict(num_classes=90), mask_predictor=dict(num_classes=90)
    ),
)
