# torchvision's fcn_resnet50 (with its auxiliary classifier) as a labseg model: ResNet-50
# with the 7x7 stem and replace_stride_with_dilation=[False, True, True] (output stride 8),
# one 3x3 conv + BN + ReLU + dropout + 1x1 classifier per head, 21 VOC classes. Loads
# torchvision's weights through labseg.models.convert.convert_torchvision_segmentor.
norm_cfg = dict(type="BN")
model = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(
        type="SegDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]
    ),
    backbone=dict(
        type="ResNet",
        depth=50,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        out_indices=(2, 3),
        norm_cfg=norm_cfg,
    ),
    decode_head=dict(
        type="FCNHead",
        in_channels=2048,
        in_index=1,
        channels=512,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
    ),
    auxiliary_head=dict(
        type="FCNHead",
        in_channels=1024,
        in_index=0,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        loss_decode=dict(type="CrossEntropyLoss", loss_weight=0.4),
    ),
    test_cfg=dict(mode="whole"),
)
