# Cascade Mask R-CNN R50-FPN (MMDetection's cascade-mask-rcnn_r50_fpn_1x_coco): Cascade R-CNN
# with a Mask R-CNN mask branch (RoIAlign 14x14, four 3x3 convs, 2x transposed conv) in every
# stage; test masks average the three branches. (A list replaces its base's whole, so the
# stages are spelt out again.)
_base_ = ["./cascade-rcnn_r50_fpn.py"]

model = dict(
    roi_head=dict(
        mask_roi_size=14,
        stages=[
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=256 * 7 * 7, representation_size=1024),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=1024, num_classes=80, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(10.0, 10.0, 5.0, 5.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5),
                sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25),
                mask_head=dict(type="MaskRCNNHead", in_channels=256, layers=(256, 256, 256, 256)),
                mask_predictor=dict(
                    type="MaskRCNNPredictor", in_channels=256, dim_reduced=256, num_classes=80
                ),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=256 * 7 * 7, representation_size=1024),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=1024, num_classes=80, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(20.0, 20.0, 10.0, 10.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.6),
                sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25),
                mask_head=dict(type="MaskRCNNHead", in_channels=256, layers=(256, 256, 256, 256)),
                mask_predictor=dict(
                    type="MaskRCNNPredictor", in_channels=256, dim_reduced=256, num_classes=80
                ),
            ),
            dict(
                box_head=dict(type="TwoMLPHead", in_channels=256 * 7 * 7, representation_size=1024),
                box_predictor=dict(
                    type="FastRCNNPredictor", in_channels=1024, num_classes=80, class_agnostic=True
                ),
                bbox_coder=dict(type="DeltaXYWHBoxCoder", weights=(30.0, 30.0, 15.0, 15.0)),
                assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.7),
                sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25),
                mask_head=dict(type="MaskRCNNHead", in_channels=256, layers=(256, 256, 256, 256)),
                mask_predictor=dict(
                    type="MaskRCNNPredictor", in_channels=256, dim_reduced=256, num_classes=80
                ),
            ),
        ],
        loss_mask=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
    ),
)
