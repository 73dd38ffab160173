# segformer_mit-b0_8xb1-160k_cityscapes-1024x1024 with the MiT-B1 encoder (embed 64, heads 1/2/5/8),
# as MMSegmentation's segformer_mit-b1_8xb1-160k_cityscapes-1024x1024.
_base_ = ["./segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"]

model = dict(
    backbone=dict(
        arch="b1",
        # SegFormer's ImageNet MiT-B1, to be imported into the model zoo
        init_cfg=dict(checkpoint="zoo://mit-b1_in1k"),
    ),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
)
