# Rotated RetinaNet R50-FPN on DOTA v1.0, 1x, le135 boxes (MMRotate's
# rotated_retinanet_obb_r50_fpn_1x_dota_le135: 69.79 mAP on the test set): the le90 config
# with the boxes of the data set and of the detections in the le135 convention.
_base_ = ["rotated-retinanet_r50_fpn_1x_dota_le90.py"]

angle_version = "le135"
model = dict(bbox_head=dict(bbox_coder=dict(angle_version=angle_version)))
train_dataloader = dict(dataset=dict(angle_version=angle_version))
val_dataloader = dict(dataset=dict(angle_version=angle_version))
test_dataloader = dict(dataset=dict(angle_version=angle_version))
