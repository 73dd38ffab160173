"""Every decode head and the segmentor: shapes, losses, whole/slide/TTA inference."""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement, PixelData

from labcore.errors import ConfigError
from labseg.registry import MODELS

NORM = dict(type="BN")
FEATS = [(16, 16), (32, 8), (64, 4), (64, 4)]  # (channels, size) of a tiny D8-like backbone
HEADS = {
    "FCNHead": dict(in_channels=64, in_index=3, channels=16),
    "PSPHead": dict(in_channels=64, in_index=3, channels=16),
    "ASPPHead": dict(in_channels=64, in_index=3, channels=16, dilations=(1, 2, 3)),
    "DepthwiseSeparableASPPHead": dict(
        in_channels=64, in_index=3, channels=16, dilations=(1, 2), c1_in_channels=16, c1_channels=8
    ),
    "UPerHead": dict(in_channels=[16, 32, 64, 64], in_index=[0, 1, 2, 3], channels=16),
    "SegformerHead": dict(in_channels=[16, 32, 64, 64], in_index=[0, 1, 2, 3], channels=16),
}
OUT_SIZE = {"DepthwiseSeparableASPPHead": 16, "UPerHead": 16, "SegformerHead": 16}


def _build(cfg):
    with DefaultScope.overwrite_default_scope("labseg"):
        return MODELS.build(cfg)


def _feats(batch=2):
    return [torch.randn(batch, c, s, s) for c, s in FEATS]


@pytest.mark.parametrize("name", list(HEADS))
def test_head_shapes_and_losses(name):
    torch.manual_seed(0)
    head = _build(dict(type=name, num_classes=5, norm_cfg=NORM, **HEADS[name]))
    logits = head(_feats())
    size = OUT_SIZE.get(name, 4)
    assert logits.shape == (2, 5, size, size)
    labels = torch.randint(0, 5, (2, 32, 32))
    labels[:, :4] = 255
    losses = head.loss(_feats(), labels)
    assert set(losses) == {"loss_ce", "acc_seg"}
    losses["loss_ce"].backward()
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)
    assert head.predict(_feats(), (32, 32)).shape == (2, 5, 32, 32)


def test_head_input_errors():
    with pytest.raises(ConfigError, match="must both be lists"):
        _build(dict(type="UPerHead", in_channels=64, in_index=3, channels=8, num_classes=2))
    with pytest.raises(ConfigError, match="input_transform 'concat' is unknown"):
        _build(
            dict(type="FCNHead", in_channels=8, channels=8, num_classes=2, input_transform="concat")
        )


def _segmentor(**test_cfg):
    return _build(
        dict(
            type="EncoderDecoder",
            data_preprocessor=dict(type="SegDataPreprocessor", size_divisor=8),
            backbone=dict(
                type="ResNetV1c", depth=18, stem_channels=8, base_channels=8,
                strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True,
                out_indices=(0, 1, 2, 3),
            ),
            decode_head=dict(type="FCNHead", in_channels=64, in_index=3, channels=8, num_classes=3),
            auxiliary_head=[
                dict(type="FCNHead", in_channels=32, in_index=2, channels=8, num_classes=3,
                     loss_decode=dict(type="CrossEntropyLoss", loss_weight=0.4)),
                dict(type="FCNHead", in_channels=16, in_index=1, channels=8, num_classes=3,
                     loss_decode=[dict(type="CrossEntropyLoss"), dict(type="DiceLoss")]),
            ],
            test_cfg=test_cfg or None,
        )
    )  # fmt: skip


def _samples(shapes, ori=None):
    samples = []
    for h, w in shapes:
        sample = BaseDataElement(metainfo=dict(img_shape=(h, w), ori_shape=ori or (h, w)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, h, w)))
        samples.append(sample)
    return samples


def test_segmentor_losses_pad_labels_with_ignore_and_predict_at_original_size():
    torch.manual_seed(0)
    model = _segmentor()
    images = [torch.randint(0, 255, (3, 30, 36), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=_samples([(30, 36)] * 2)), True)
    assert data["inputs"].shape == (2, 3, 32, 40)
    assert (data["data_samples"][0].gt_sem_seg.data[:, 30:] == 255).all()
    losses = model(**data, mode="loss")
    assert set(losses) == {
        "decode.loss_ce", "decode.acc_seg", "aux.loss_ce", "aux.acc_seg",
        "aux_1.loss_ce", "aux_1.loss_dice", "aux_1.acc_seg",
    }  # fmt: skip
    model.eval()
    data = model.data_preprocessor(
        dict(inputs=images, data_samples=_samples([(30, 36)] * 2, (60, 72)))
    )
    out = model(**data, mode="predict")
    assert out[0].pred_sem_seg.data.shape == (1, 60, 72)
    assert out[0].seg_logits.data.shape == (3, 60, 72)


def test_slide_inference_equals_whole_for_one_window_and_averages_overlaps():
    torch.manual_seed(0)
    whole = _segmentor().eval()
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        slide = _segmentor(mode="slide", crop_size=(32, 48), stride=(16, 16))
        slide.load_state_dict(whole.state_dict())
        torch.testing.assert_close(slide.eval().inference(x), whole.inference(x))
        windows = _segmentor(mode="slide", crop_size=(32, 32), stride=(16, 16))
        windows.load_state_dict(whole.state_dict())
        windows.eval()
        left = whole.whole_inference(x[..., :32])
        right = whole.whole_inference(x[..., 16:])
        expected = torch.zeros(1, 3, 32, 48)
        expected[..., :32] += left
        expected[..., 16:] += right
        expected[..., 16:32] /= 2
        torch.testing.assert_close(windows.inference(x), expected)


def test_tta_averages_scales_and_flips():
    torch.manual_seed(0)
    plain = _segmentor().eval()
    tta = _segmentor(tta=dict(scales=(1.0, 2.0), flip=True))
    tta.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        expected = []
        for scale in (1.0, 2.0):
            scaled = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bilinear")
            for flip in (False, True):
                out = plain.whole_inference(scaled.flip(-1) if flip else scaled)
                out = out.flip(-1) if flip else out
                expected.append(
                    torch.nn.functional.interpolate(out, size=(16, 16), mode="bilinear")
                )
        torch.testing.assert_close(tta.eval().inference(x), torch.stack(expected).mean(0))


def test_test_cfg_errors():
    with pytest.raises(ConfigError, match="needs crop_size"):
        _segmentor(mode="slide")
    with pytest.raises(ConfigError, match="mode 'tiles' is unknown"):
        _segmentor(mode="tiles")
