# torchvision's fcos_resnet50_fpn, layer for layer: 91 sigmoid classes and its test settings.
_base_ = ["./fcos_r50_fpn_1x_coco.py"]

model = dict(bbox_head=dict(num_classes=91))
