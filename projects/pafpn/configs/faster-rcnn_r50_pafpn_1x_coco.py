# Faster R-CNN R-50 with PAFPN on COCO, 1x: MMDetection reports 37.5 box AP
# (configs/pafpn/README.md), against 37.4 for the same detector with FPN.
_base_ = ["labdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py"]

custom_imports = dict(imports=["projects.pafpn.pafpn"], allow_failed_imports=False)

model = dict(
    neck=dict(
        _delete_=True,
        type="PAFPN",
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        extra_levels="maxpool",
    )
)
