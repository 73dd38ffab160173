"""CdnQueryGenerator: where its positive and negative denoising queries lie, which queries
may attend to which, and the decoder's look-forward-twice gradient."""

from __future__ import annotations

import torch
from mmengine.structures import InstanceData
from torchvision.ops import box_convert

from labdet.models.transformers import CdnQueryGenerator, DinoTransformerDecoder

IMG_SHAPES = [(60, 80), (40, 50), (30, 30)]


def _ground_truth():
    g = torch.Generator().manual_seed(0)
    out = []
    for num, (h, w) in zip([3, 1, 0], IMG_SHAPES):
        xy = torch.rand(num, 2, generator=g) * torch.tensor([w, h]) * 0.5
        wh = torch.rand(num, 2, generator=g) * 10 + 4
        out.append(
            InstanceData(
                bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 5, (num,), generator=g)
            )
        )
    return out


def test_denoising_queries_groups_noise_and_attention_mask():
    torch.manual_seed(0)
    generator = CdnQueryGenerator(
        num_classes=5, embed_dims=8, num_matching_queries=4, label_noise_scale=0.0, num_dn_queries=7
    )
    gts = _ground_truth()
    label_query, box_query, mask, meta = generator(gts, IMG_SHAPES)
    most, groups = 3, 7 // 3
    num_dn = 2 * most * groups
    assert meta == dict(num_denoising_queries=num_dn, num_denoising_groups=groups)
    assert label_query.shape == (3, num_dn, 8) and box_query.shape == (3, num_dn, 4)
    for i, (gt, (h, w)) in enumerate(zip(gts, IMG_SHAPES)):
        scale = torch.tensor([w, h, w, h], dtype=torch.float32)
        truth = gt.bboxes / scale
        sizes = box_convert(truth, "xyxy", "cxcywh")[:, 2:].repeat(1, 2)
        for g in range(groups):
            for j in range(most):
                for kind, slot in (("pos", 2 * most * g + j), ("neg", 2 * most * g + most + j)):
                    if j >= len(gt):  # an empty slot
                        assert (label_query[i, slot] == 0).all() and (box_query[i, slot] == 0).all()
                        continue
                    torch.testing.assert_close(
                        label_query[i, slot], generator.label_embedding.weight[gt.labels[j]]
                    )
                    noisy = box_convert(box_query[i, slot].sigmoid(), "cxcywh", "xyxy")
                    # per side: positives within half the size, negatives within one size
                    # (clamping to the image can only move a corner towards the truth's side)
                    shift = (noisy - truth[j]).abs() / sizes[j]
                    assert (shift <= (0.5 if kind == "pos" else 1.0) + 1e-3).all(), (kind, shift)
    # queries of one group see their group and the matching queries; matching queries
    # see only matching queries (True = blocked)
    total = num_dn + 4
    for a in range(total):
        for b in range(total):
            a_dn, b_dn = a < num_dn, b < num_dn
            if a_dn and b_dn:
                allowed = a // (2 * most) == b // (2 * most)
            else:
                allowed = not b_dn
            assert mask[a, b].item() == (not allowed), (a, b)


def test_refined_references_keep_their_gradient_for_the_next_layers_loss():
    torch.manual_seed(0)
    attn = dict(embed_dims=16, num_heads=2, num_levels=1, num_points=2, dropout=0.0)
    decoder = DinoTransformerDecoder(
        num_layers=2,
        layer_cfg=dict(
            self_attn=dict(num_heads=2, dropout=0.0),
            cross_attn=attn,
            ffn=dict(feedforward_channels=32, ffn_drop=0.0),
        ),
    )
    reg_branches = torch.nn.ModuleList([torch.nn.Linear(16, 4) for _ in range(2)])
    hidden, references = decoder(
        torch.randn(1, 3, 16),
        query_pos=None,
        value=torch.randn(1, 12, 16),
        key_padding_mask=torch.zeros(1, 12, dtype=torch.bool),
        reference_points=torch.rand(1, 3, 4) * 0.5 + 0.2,
        spatial_shapes=torch.tensor([[3, 4]]),
        level_start_index=torch.tensor([0]),
        valid_ratios=torch.ones(1, 1, 2),
        reg_branches=reg_branches,
    )
    assert hidden.shape == (2, 1, 3, 16) and len(references) == 3
    # references[1], layer 1's refinement that the head adds layer 2's box to, keeps its
    # gradient: layer 2's box loss trains layer 1's box branch too (look forward twice)
    references[1].sum().backward()
    assert reg_branches[0].weight.grad is not None and reg_branches[0].weight.grad.abs().sum() > 0
