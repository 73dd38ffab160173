# faster-rcnn_r50_fpn_1x_coco trained with mixed precision, as MMDetection's
# faster-rcnn_r50_fpn_amp-1x_coco: the same model.
_base_ = ["./faster-rcnn_r50_fpn_1x_coco.py"]

optim_wrapper = dict(type="AmpOptimWrapper")
