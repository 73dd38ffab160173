"""Each self-supervised model builds, trains one step, and embeds; MoCo's queue, MAE's
masking and the linear probe's frozen backbone behave as their papers describe."""

import pytest
import torch
import torch.nn.functional as F

from labcore.models.backbones import VisionTransformer
from labssl.models.losses import nt_xent_loss
from labssl.registry import MODELS


def method_cfgs(backbone):
    mlp = dict(in_channels=64, hid_channels=32, out_channels=16)
    return {
        "MoCoV2": dict(
            type="MoCoV2",
            backbone=backbone,
            neck=dict(type="MoCoV2Neck", **mlp),
            head=dict(type="ContrastiveHead", temperature=0.2),
            queue_len=6,
            feat_dim=16,
        ),
        "SimCLR": dict(
            type="SimCLR",
            backbone=backbone,
            neck=dict(type="NonLinearNeck", **mlp),
            head=dict(type="ContrastiveHead", temperature=0.1),
        ),
        "BYOL": dict(
            type="BYOL",
            backbone=backbone,
            neck=dict(type="NonLinearNeck", with_last_bn=False, **mlp),
            head=dict(
                type="LatentPredictHead",
                predictor=dict(
                    type="NonLinearNeck",
                    in_channels=16,
                    hid_channels=32,
                    out_channels=16,
                    with_last_bn=False,
                    with_avg_pool=False,
                ),
            ),
        ),
    }


@pytest.mark.parametrize("method", ["MoCoV2", "SimCLR", "BYOL"])
def test_a_training_step_reaches_the_backbone_and_predict_gives_features(
    method, tiny_resnet, make_batch
):
    torch.manual_seed(0)
    model = MODELS.build(method_cfgs(tiny_resnet)[method])
    model.init_weights()
    model.train()
    data = model.data_preprocessor(make_batch(batch=4), True)
    losses = model(**data, mode="loss")
    assert torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    single = make_batch(batch=3, views=1)
    single["inputs"] = list(single["inputs"][0])
    samples = model.val_step(single)
    assert len(samples) == 3 and samples[0].features.shape == (64,)


def test_moco_queue_takes_the_keys_and_wraps(tiny_resnet, make_batch):
    torch.manual_seed(0)
    model = MODELS.build(method_cfgs(tiny_resnet)["MoCoV2"])
    model.init_weights()
    model.train()
    data = model.data_preprocessor(make_batch(batch=4), True)
    model(**data, mode="loss")
    keys = F.normalize(model.momentum_encoder(data["inputs"][1]), dim=1)
    torch.testing.assert_close(model.queue[:4], keys.detach())
    assert int(model.queue_ptr) == 4
    model.enqueue(keys)  # 4 more into a queue of 6: two at the end, two at the start
    torch.testing.assert_close(model.queue[4:], keys[:2])
    torch.testing.assert_close(model.queue[:2], keys[2:])
    assert int(model.queue_ptr) == 2


def test_simclr_loss_is_nt_xent_of_its_projections(tiny_resnet, make_batch):
    torch.manual_seed(0)
    model = MODELS.build(method_cfgs(tiny_resnet)["SimCLR"])
    model.train()
    data = model.data_preprocessor(make_batch(batch=4), True)
    loss = model(**data, mode="loss")["loss"]
    torch.manual_seed(0)  # the same BatchNorm batch: both views together
    z = model.neck(model.backbone(torch.cat(data["inputs"])))
    torch.testing.assert_close(loss, nt_xent_loss(z, 0.1))


def mae_cfg():
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, mlp_dims=64)
    return dict(
        type="MAE",
        backbone=dict(type="MAEViT", arch=arch, img_size=32, patch_size=8, mask_ratio=0.75),
        neck=dict(
            type="MAEPretrainDecoder",
            num_patches=16,
            patch_size=8,
            embed_dims=32,
            decoder_dims=16,
            num_layers=1,
            num_heads=2,
        ),
    )


def test_mae_masks_three_quarters_and_restores_the_order(make_batch):
    torch.manual_seed(0)
    model = MODELS.build(mae_cfg())
    x = torch.arange(2 * 16 * 3, dtype=torch.float32).reshape(2, 16, 3)
    kept, mask, ids_restore = model.backbone.random_masking(x)
    assert kept.shape == (2, 4, 3) and mask.sum(dim=1).tolist() == [12.0, 12.0]
    for b in range(2):  # the kept patches are exactly the unmasked ones
        visible = x[b][mask[b] == 0]
        assert sorted(kept[b, :, 0].tolist()) == sorted(visible[:, 0].tolist())
    data = model.data_preprocessor(make_batch(batch=2, views=1), True)
    loss = model(**data, mode="loss")["loss"]
    loss.backward()
    assert torch.isfinite(loss) and model.backbone.patch_embed.weight.grad.abs().sum() > 0
    assert model.backbone.pos_embed.grad is None  # the fixed sine-cosine embedding


def test_mae_encoder_weights_load_into_a_plain_vit():
    encoder = MODELS.build(mae_cfg()).backbone
    vit = VisionTransformer(
        arch=dict(embed_dims=32, num_layers=2, num_heads=2, mlp_dims=64), img_size=32, patch_size=8
    )
    vit.load_state_dict(encoder.state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 32)
    encoder.eval(), vit.eval()
    torch.testing.assert_close(vit(x)[0], encoder(x)[0])


def test_the_linear_probe_freezes_the_backbone_and_its_batchnorm(tiny_resnet, make_batch):
    model = MODELS.build(
        dict(
            type="LinearProbeClassifier",
            backbone=tiny_resnet,
            neck=dict(type="GlobalAveragePooling"),
            head=dict(
                type="LinearClsHead",
                num_classes=3,
                in_channels=64,
                loss=dict(type="CrossEntropyLoss"),
            ),
            feature_norm=64,
        )
    )
    model.train()
    assert not model.backbone.training and model.head.training and model.feature_norm.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    running = model.backbone.bn1.running_mean.clone()
    batch = make_batch(batch=4, views=1)
    batch["inputs"] = list(batch["inputs"][0])
    data = model.data_preprocessor(batch, True)
    model(**data, mode="loss")["loss"].backward()
    assert torch.equal(model.backbone.bn1.running_mean, running)
    model.eval()
    sample = model.val_step(batch)[0]
    assert sample.features.shape == (64,) and sample.pred_score.shape == (3,)
