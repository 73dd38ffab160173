# torchvision's retinanet_resnet50_fpn, layer for layer: 91 sigmoid classes (COCO category ids,
# 0 and the unused ids included) and its test settings. Loads torchvision weights through
# labdet.models.convert.convert_torchvision_detector.
_base_ = ["./retinanet_r50_fpn_1x_coco.py"]

model = dict(
    # torchvision's detection recipe: its ImageNet ResNet-50 weights
    backbone=dict(
        init_cfg=dict(_delete_=True, type="Pretrained", checkpoint="torchvision://resnet50")
    ),
    bbox_head=dict(
        num_classes=91,
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.5, topk_candidates=1000, max_per_img=300),
    ),
)

# torchvision's label layout, which its published weights predict: label = COCO category
# id (91 labels, 0 and the 10 unused ids among them). CocoMetric maps labels back to
# category ids through the data set's cat_ids.
train_dataloader = dict(dataset=dict(label_layout="category_id"))
val_dataloader = dict(dataset=dict(label_layout="category_id"))
test_dataloader = val_dataloader
