# torchvision's deeplabv3_resnet50 (with its auxiliary classifier) as a labseg model: the
# dilated ResNet-50 of fcn_r50-d8_tv, ASPP with dilations 12, 24, 36 and image pooling, the
# 1x1 projection (dropout 0.5) before the 3x3 bottleneck, 21 VOC classes.
_base_ = ["./fcn_r50-d8_tv.py"]

model = dict(
    decode_head=dict(
        _delete_=True,
        type="ASPPHead",
        in_channels=2048,
        in_index=1,
        channels=256,
        dilations=(1, 12, 24, 36),
        with_project=True,
        dropout_ratio=0.0,
        num_classes=21,
        norm_cfg=dict(type="BN"),
    ),
)
