# A tiny FCN for the CPU: ResNet-18 at 1/4 width (from the classification zoo) with the
# strides it was trained with there (stages 1-3 at 1/4, stage 4 at 1/8: 16x16 and 8x8
# maps for the 64 px shapes), and a one-conv FCN head over stages 3 and 4 resized to 1/4
# and concatenated. (Named after MMSegmentation's R-18-D8 configs; their dilated stages
# give 1/8 maps only, too coarse for shapes of 16-38 px, at strides the zoo's weights
# never saw.)
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
        strides=(1, 1, 1, 2),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        # the classification zoo's tiny ResNet-18 (same widths), trained on the shapes set
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet18_tiny_shapes", prefix="backbone."
        ),
    ),
    decode_head=dict(
        type="FCNHead",
        in_channels=(64, 128),
        in_index=(2, 3),
        input_transform="resize_concat",
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=9,
        norm_cfg=norm_cfg,
        # Dice beside cross-entropy: the small shape classes weigh as much as the background
        loss_decode=[
            dict(type="CrossEntropyLoss", loss_weight=1.0),
            dict(type="DiceLoss", loss_weight=1.0),
        ],
    ),
    # no auxiliary head: the decode head reads stage 3 itself
    test_cfg=dict(mode="whole"),
)
