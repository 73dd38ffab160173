# segformer_mit-b0_8xb2-160k_ade20k-512x512 with the MiT-B3 encoder (embed 64, heads 1/2/5/8),
# as MMSegmentation's segformer_mit-b3_8xb2-160k_ade20k-512x512.
_base_ = ["./segformer_mit-b0_8xb2-160k_ade20k-512x512.py"]

model = dict(
    backbone=dict(
        arch="b3",
        # SegFormer's ImageNet MiT-B3, to be imported into the model zoo
        init_cfg=dict(checkpoint="zoo://mit-b3_in1k"),
    ),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
)
