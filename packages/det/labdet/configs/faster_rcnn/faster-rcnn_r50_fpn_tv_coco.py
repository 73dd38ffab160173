# torchvision's fasterrcnn_resnet50_fpn, layer for layer: 90 object classes + background
# (torchvision's 91 outputs) and its test settings.
_base_ = ["./faster-rcnn_r50_fpn_1x_coco.py"]

model = dict(
    # torchvision's detection recipe: its ImageNet ResNet-50 weights
    backbone=dict(
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet50")
    ),
    roi_head=dict(num_classes=90, box_predictor=dict(num_classes=90)),
)

# torchvision's label layout, which its published weights predict: label = COCO category
# id - 1 (90 labels, the 10 unused ids among them; torchvision's output 0 is the
# background). CocoMetric maps labels back to category ids through the data set's cat_ids.
train_dataloader = dict(dataset=dict(label_layout="category_id-1"))
val_dataloader = dict(dataset=dict(label_layout="category_id-1"))
test_dataloader = val_dataloader
