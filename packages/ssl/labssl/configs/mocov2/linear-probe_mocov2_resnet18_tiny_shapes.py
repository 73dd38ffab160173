# The linear probe of mocov2_resnet18_tiny_shapes (as in ssl-shapes-tiny; see metafile): its
# pretrained backbone from the model zoo, frozen (BatchNorm in eval), a linear classifier
# on its standardised features, trained as the random-init baseline is. Probe another
# checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/moco/epoch_4.pth
_base_ = ["../linear_probe/linear-probe_random-init_resnet18_tiny_shapes.py"]

model = dict(
    backbone=dict(
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://mocov2_resnet18_tiny_shapes", prefix="backbone."
        )
    )
)
