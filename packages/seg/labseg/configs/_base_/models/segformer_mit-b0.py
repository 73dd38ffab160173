# SegFormer with the MiT-B0 encoder and the all-MLP head (256 channels), as
# MMSegmentation's segformer_mit-b0.
norm_cfg = dict(type="SyncBN", requires_grad=True)
data_preprocessor = dict(
    type="SegDataPreprocessor",
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    pad_val=0,
    seg_pad_val=255,
)
model = dict(
    type="EncoderDecoder",
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type="MixVisionTransformer",
        arch="b0",
        drop_path_rate=0.1,
        # SegFormer's ImageNet MiT-B0, imported into the model zoo
        init_cfg=dict(type="Pretrained", checkpoint="zoo://mit-b0_in1k", prefix="backbone."),
    ),
    decode_head=dict(
        type="SegformerHead",
        in_channels=[32, 64, 160, 256],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", loss_weight=1.0),
    ),
    test_cfg=dict(mode="whole"),
)
