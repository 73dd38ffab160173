# A tiny DINO for the CPU: ResNet-18 at 1/4 width (from the classification zoo), C3-C5 plus
# a strided level mapped to 64 channels, 2 encoder and 2 decoder layers of 4-head
# deformable attention, 30 matching queries and up to 30 denoising queries for the 2-6
# shapes of the 128 px images.
_base_ = [
    "../_base_/models/dino-4scale_r50.py",
    "../_base_/datasets/shapes_det.py",
    "../_base_/schedules/schedule_tiny.py",
    "../_base_/default_runtime.py",
]

embed_dims = 64
attn = dict(embed_dims=embed_dims, num_heads=4, num_levels=4, num_points=4, dropout=0.0)
ffn = dict(feedforward_channels=256, ffn_drop=0.0)
model = dict(
    num_queries=30,
    dn_cfg=dict(num_dn_queries=30),
    backbone=dict(
        _delete_=True,
        type="ResNet",
        depth=18,
        stem_channels=16,
        base_channels=16,
        out_indices=(1, 2, 3),
        norm_cfg=dict(type="BN"),
        # the classification zoo's tiny ResNet-18 (same widths), trained on the shapes set
        init_cfg=dict(
            type="Pretrained", checkpoint="zoo://resnet18_tiny_shapes", prefix="backbone."
        ),
    ),
    neck=dict(in_channels=[32, 64, 128], out_channels=embed_dims, num_groups=16),
    encoder=dict(num_layers=2, layer_cfg=dict(self_attn=attn, ffn=ffn)),
    decoder=dict(
        num_layers=2,
        layer_cfg=dict(self_attn=dict(num_heads=4, dropout=0.0), cross_attn=attn, ffn=ffn),
    ),
    positional_encoding=dict(num_feats=embed_dims // 2),
    bbox_head=dict(num_classes=8, embed_dims=embed_dims, test_cfg=dict(max_per_img=100)),
)

# AdamW with DINO's backbone lr multiplier, on the tiny schedule's warm-up and cosine decay
optim_wrapper = dict(
    optimizer=dict(lr=0.001),
    clip_grad=dict(max_norm=0.1),
    paramwise_cfg=dict(custom_keys={"backbone": dict(lr_mult=0.1)}),
)

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(type="CheckpointHook", interval=600, by_epoch=False),
)
log_processor = dict(by_epoch=False)
