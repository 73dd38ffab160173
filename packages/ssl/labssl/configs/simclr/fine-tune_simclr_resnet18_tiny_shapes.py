# Fine-tuning into labcls: the quarter-width ResNet-18 that simclr_resnet18_tiny_shapes
# pretrained (from the model zoo), trained end to end as labcls trains
# resnet18_tiny_shapes from scratch (the same data, flips, head, AdamW schedule and 20
# epochs: protocol cls-shapes-tiny), so the two compare directly. Fine-tune another
# pretraining checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/simclr/epoch_4.pth
_base_ = ["labcls::resnet/resnet18_tiny_shapes.py"]

model = dict(
    backbone=dict(
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://simclr_resnet18_tiny_shapes", prefix="backbone."
        )
    )
)
