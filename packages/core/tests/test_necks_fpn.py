import pytest
import torch
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from labcore.models.necks import FPN


def _copy_weights(ours: FPN, reference: FeaturePyramidNetwork) -> None:
    for mine, theirs in zip(ours.lateral_convs, reference.inner_blocks):
        mine.load_state_dict(theirs[0].state_dict())
    for mine, theirs in zip(ours.fpn_convs, reference.layer_blocks):
        mine.load_state_dict(theirs[0].state_dict())
    if ours.extra_levels == "p6p7":
        ours.p6.load_state_dict(reference.extra_blocks.p6.state_dict())
        ours.p7.load_state_dict(reference.extra_blocks.p7.state_dict())


@pytest.mark.parametrize(
    "extra, source, tv_extra",
    [
        ("maxpool", "output", LastLevelMaxPool()),
        ("p6p7", "output", LastLevelP6P7(16, 16)),
        ("p6p7", "input", LastLevelP6P7(32, 16)),
        ("none", "output", None),
    ],
)
def test_fpn_equals_torchvision(extra, source, tv_extra):
    torch.manual_seed(0)
    in_channels = [8, 16, 32]
    reference = FeaturePyramidNetwork(in_channels, 16, extra_blocks=tv_extra)
    ours = FPN(in_channels=in_channels, out_channels=16, extra_levels=extra, extra_source=source)
    _copy_weights(ours, reference)
    # odd sizes exercise the nearest upsampling to the finer map's exact size
    feats = [torch.randn(2, c, s, s + 1) for c, s in zip(in_channels, (33, 17, 9))]
    expected = list(reference({str(i): f for i, f in enumerate(feats)}).values())
    got = ours(feats)
    assert len(got) == ours.num_outs == len(expected)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_fpn_names_a_level_mismatch():
    fpn = FPN(in_channels=[8, 16], out_channels=8)
    with pytest.raises(ValueError, match="out_indices"):
        fpn([torch.randn(1, 8, 8, 8)])
    with pytest.raises(ValueError, match="extra_levels"):
        FPN(in_channels=[8], out_channels=8, extra_levels="p6")
