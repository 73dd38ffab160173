# The linear probe of simclr_resnet18_tiny_shapes (protocol ssl-shapes-tiny): its
# pretrained backbone from the model zoo, frozen (BatchNorm in eval), a linear classifier
# on its standardised features, trained as the random-init baseline is. Probe another
# checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/simclr/epoch_4.pth
_base_ = ["../linear_probe/linear-probe_random-init_resnet18_tiny_shapes.py"]

model = dict(
    backbone=dict(
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://simclr_resnet18_tiny_shapes", prefix="backbone."
        )
    )
)
