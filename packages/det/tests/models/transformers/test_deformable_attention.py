"""MultiScaleDeformableAttention against a plain ``grid_sample`` formulation written here
(where its sampling points fall, for reference points and reference boxes), its initial
sampling pattern, and the sine positional encoding against a loop over pixels."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from labdet.models.transformers import MultiScaleDeformableAttention, SinePositionalEncoding

SHAPES = [(6, 8), (3, 4)]


def _plain_attention(module, query, value, query_pos, reference_points, spatial_shapes):
    """Every head samples every level with grid_sample at its points, weighted."""
    batch, num_queries, channels = query.shape
    heads, levels, points = module.num_heads, module.num_levels, module.num_points
    q = query + query_pos
    v = module.value_proj(value).view(batch, -1, heads, channels // heads)
    offsets = module.sampling_offsets(q).view(batch, num_queries, heads, levels, points, 2)
    weights = module.attention_weights(q).view(batch, num_queries, heads, levels * points)
    weights = weights.softmax(-1).view(batch, num_queries, heads, levels, points)
    out = torch.zeros(batch, num_queries, heads, channels // heads)
    start = 0
    for level, (h, w) in enumerate(SHAPES):
        v_level = v[:, start : start + h * w].permute(0, 2, 3, 1).reshape(batch * heads, -1, h, w)
        start += h * w
        ref = reference_points[:, :, None, level, None, :]  # B, Q, 1, 1, 2 or 4
        if ref.shape[-1] == 2:
            loc = ref + offsets[:, :, :, level] / torch.tensor([w, h])
        else:
            loc = ref[..., :2] + offsets[:, :, :, level] / points * ref[..., 2:] * 0.5
        grid = (2 * loc - 1).permute(0, 2, 1, 3, 4).reshape(batch * heads, num_queries, points, 2)
        sampled = F.grid_sample(
            v_level, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        sampled = sampled.view(batch, heads, -1, num_queries, points).permute(0, 3, 1, 4, 2)
        out += (sampled * weights[:, :, :, level, :, None]).sum(3)
    return query + module.output_proj(out.reshape(batch, num_queries, channels))


@pytest.mark.parametrize("reference_dims", [2, 4])
def test_matches_the_plain_grid_sample_formulation(reference_dims):
    torch.manual_seed(0)
    module = MultiScaleDeformableAttention(
        embed_dims=16, num_heads=2, num_levels=2, num_points=3, dropout=0.0
    )
    for linear in (module.sampling_offsets, module.attention_weights):
        torch.nn.init.normal_(linear.weight, std=0.2)
    batch, num_queries = 2, 5
    spatial_shapes = torch.tensor(SHAPES)
    level_start_index = torch.tensor([0, SHAPES[0][0] * SHAPES[0][1]])
    value = torch.randn(batch, sum(h * w for h, w in SHAPES), 16)
    query, query_pos = torch.randn(batch, num_queries, 16), torch.randn(batch, num_queries, 16)
    reference_points = torch.rand(batch, num_queries, 2, reference_dims) * 0.6 + 0.2
    out = module(
        query,
        value=value,
        query_pos=query_pos,
        reference_points=reference_points,
        spatial_shapes=spatial_shapes,
        level_start_index=level_start_index,
    )
    expected = _plain_attention(module, query, value, query_pos, reference_points, SHAPES)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_initial_points_lie_on_one_ray_per_head():
    module = MultiScaleDeformableAttention(embed_dims=32, num_heads=8, num_levels=2, num_points=3)
    bias = module.sampling_offsets.bias.view(8, 2, 3, 2)
    for head in range(8):
        angle = 2 * math.pi * head / 8
        direction = torch.tensor([math.cos(angle), math.sin(angle)])
        direction = direction / direction.abs().max()
        for point in range(3):
            torch.testing.assert_close(bias[head, 1, point], direction * (point + 1))
    assert (module.attention_weights.weight == 0).all()


def test_sine_encoding_against_a_loop_over_pixels():
    mask = torch.zeros(1, 3, 5, dtype=torch.bool)
    mask[:, :, 4:] = True  # the last column is padding
    encoding = SinePositionalEncoding(num_feats=4)(mask)
    assert encoding.shape == (1, 8, 3, 5)
    for y in range(3):
        for x in range(4):
            ey = (y + 1 - 0.5) / (3 + 1e-6) * 2 * math.pi
            ex = (x + 1 - 0.5) / (4 + 1e-6) * 2 * math.pi
            expected = []
            for e in (ey, ex):
                for i in range(4):
                    angle = e / 10000 ** (2 * (i // 2) / 4)
                    expected.append(math.sin(angle) if i % 2 == 0 else math.cos(angle))
            torch.testing.assert_close(encoding[0, :, y, x], torch.tensor(expected))
