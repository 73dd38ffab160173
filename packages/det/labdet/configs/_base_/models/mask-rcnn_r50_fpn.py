# Mask R-CNN R50-FPN: Faster R-CNN R50-FPN plus torchvision's mask branch (RoIAlign 14x14,
# four 3x3 convs, 2x transposed conv, per-class 28x28 mask logits).
_base_ = ["./faster-rcnn_r50_fpn.py"]

model = dict(
    type="MaskRCNN",
    roi_head=dict(
        mask_roi_size=14,
        mask_head=dict(type="MaskRCNNHead", in_channels=256, layers=(256, 256, 256, 256)),
        mask_predictor=dict(
            type="MaskRCNNPredictor", in_channels=256, dim_reduced=256, num_classes=80
        ),
        loss_mask=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
    ),
)
