# Rotated RetinaNet R50-FPN on DOTA v1.0, 1x, oc boxes (MMRotate's
# rotated_retinanet_hbb_r50_fpn_1x_dota_oc: 64.55 mAP on the test set): the le90 config with
# the boxes in OpenCV's convention and the anchors assigned by their IoU with each ground
# truth's outer axis-aligned box ("hbb"), as MMRotate's oc variant is.
_base_ = ["rotated-retinanet_r50_fpn_1x_dota_le90.py"]

angle_version = "oc"
model = dict(
    bbox_head=dict(
        bbox_coder=dict(angle_version=angle_version),
        assigner=dict(type="OuterBoxMaxIoUAssigner"),
    )
)
train_dataloader = dict(dataset=dict(angle_version=angle_version))
val_dataloader = dict(dataset=dict(angle_version=angle_version))
test_dataloader = dict(dataset=dict(angle_version=angle_version))
