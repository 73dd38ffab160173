# FCN-D6 on ResNet-50-V1c at output stride 16 (stage 4 dilated 2) with dilation-6 head
# convs, as MMSegmentation's fcn-d6_r50-d16_4xb2-80k_cityscapes-512x1024.
_base_ = ["./fcn_r50-d8_4xb2-80k_cityscapes-512x1024.py"]

model = dict(
    backbone=dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)),
    decode_head=dict(dilation=6),
    auxiliary_head=dict(dilation=6),
)
