# A tiny FCN for the CPU: ResNet-18 at 1/4 width (from the classification zoo), dilated to
# output stride 8 (8x8 maps for the 64 px shapes), a one-conv FCN head concatenated with
# its input, and an auxiliary head on stage 3.
_base_ = [
    "../_base_/datasets/shapes_seg.py",
    "../_base_/schedules/schedule_tiny.py",
]

norm_cfg = dict(type="BN")
# the statistics the classification zoo's tiny ResNet-18 was trained with
data_preprocessor = dict(
    type="SegDataPreprocessor", mean=[127.5] * 3, std=[63.75] * 3, size_divisor=8
)
model = dict(
    type="EncoderDecoder",
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type="ResNet",
        depth=18,
        stem_channels=16,
        base_channels=16,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        # the classification zoo's tiny ResNet-18 (same widths), trained on the shapes set
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet18_tiny_shapes", prefix="backbone."
        ),
    ),
    decode_head=dict(
        type="FCNHead",
        in_channels=128,
        in_index=3,
        channels=64,
        num_convs=1,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=9,
        norm_cfg=norm_cfg,
        # Dice beside cross-entropy: the small shape classes weigh as much as the background
        loss_decode=[
            dict(type="CrossEntropyLoss", loss_weight=1.0),
            dict(type="DiceLoss", loss_weight=1.0),
        ],
    ),
    auxiliary_head=dict(
        type="FCNHead",
        in_channels=64,
        in_index=2,
        channels=32,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=9,
        norm_cfg=norm_cfg,
        loss_decode=dict(type="CrossEntropyLoss", loss_weight=0.4),
    ),
    test_cfg=dict(mode="whole"),
)
