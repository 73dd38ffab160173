# DINO-4scale R-50 (MMDetection's dino-4scale_r50_8xb2-12e_coco model): Deformable DETR's
# backbone, neck and encoder (FFN 2048, no dropout, positional temperature 20), 900 matching
# queries from the encoder's best proposals with learned content, up to 100 contrastive
# denoising queries per image, focal (weight 1), L1 (5) and GIoU (2) losses; the top 300
# of queries x classes at test time.
_base_ = ["./deformable-detr_r50.py"]

attn = dict(embed_dims=256, num_heads=8, num_levels=4, num_points=4, dropout=0.0)
ffn = dict(feedforward_channels=2048, ffn_drop=0.0)
model = dict(
    type="DINO",
    num_queries=900,
    with_box_refine=True,
    as_two_stage=True,
    dn_cfg=dict(label_noise_scale=0.5, box_noise_scale=1.0, num_dn_queries=100),
    encoder=dict(layer_cfg=dict(self_attn=attn, ffn=ffn)),
    decoder=dict(
        type="DinoTransformerDecoder",
        layer_cfg=dict(self_attn=dict(num_heads=8, dropout=0.0), cross_attn=attn, ffn=ffn),
    ),
    positional_encoding=dict(num_feats=128, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type="DINOHead",
        loss_cls=dict(loss_weight=1.0),
        test_cfg=dict(max_per_img=300),
    ),
)
