# MMDetection's mask-rcnn_r50_fpn_ms-poly-3x_coco: the model of mask-rcnn_r50_fpn_3x_coco, 36 epochs
# (lr x0.1 after epochs 27 and 33, as MMDetection's 12 epochs of the train set repeated
# 3 times with milestones 9 and 11). MMDetection trains on multi-scale inputs (shorter
# side 640-800), for which labdet has no transform: this config trains at 800, and tests
# as MMDetection does (1333x800), so MMDetection's published weights load and test here.
_base_ = ["./mask-rcnn_r50_fpn_3x_coco.py"]
