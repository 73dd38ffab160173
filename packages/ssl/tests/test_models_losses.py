"""Each method's loss against a plain-torch reference written here, on fixed embeddings."""

import math

import torch
import torch.nn.functional as F

from labssl.models.heads import ContrastiveHead, LatentPredictHead
from labssl.models.losses import (
    byol_loss,
    info_nce_loss,
    mae_pixel_loss,
    nt_xent_loss,
    patchify,
)
from labssl.models.necks import NonLinearNeck


def fixed(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_info_nce_matches_the_per_sample_formula():
    q, k = F.normalize(fixed(4, 8), dim=1), F.normalize(fixed(4, 8, seed=1), dim=1)
    queue = F.normalize(fixed(16, 8, seed=2), dim=1)
    t = 0.2
    expected = 0.0
    for i in range(4):  # -log( exp(q.k / t) / (exp(q.k / t) + sum_n exp(q.n / t)) )
        pos = math.exp(float(q[i] @ k[i]) / t)
        neg = sum(math.exp(float(q[i] @ n) / t) for n in queue)
        expected += -math.log(pos / (pos + neg)) / 4
    assert math.isclose(float(info_nce_loss(q, k, queue, t)), expected, rel_tol=1e-10)
    head = ContrastiveHead(temperature=t)
    loss = head((q * k).sum(1, keepdim=True), q @ queue.t())
    assert math.isclose(float(loss), expected, rel_tol=1e-10)


def test_nt_xent_matches_the_simclr_formula():
    z = fixed(6, 5)  # 3 images, rows i and i + 3 are a pair
    t = 0.1
    zn = F.normalize(z, dim=1)
    n, expected = 6, 0.0
    for i in range(n):
        j = (i + 3) % n
        denominator = sum(math.exp(float(zn[i] @ zn[m]) / t) for m in range(n) if m != i)
        expected += -math.log(math.exp(float(zn[i] @ zn[j]) / t) / denominator) / n
    assert math.isclose(float(nt_xent_loss(z, t)), expected, rel_tol=1e-10)


def test_byol_loss_is_two_minus_two_cosine():
    p, z = fixed(4, 8), fixed(4, 8, seed=1)
    expected = sum(2 - 2 * float(p[i] @ z[i] / (p[i].norm() * z[i].norm())) for i in range(4)) / 4
    assert math.isclose(float(byol_loss(p, z)), expected, rel_tol=1e-10)
    # the head: its predictor, then the same loss; no gradient reaches the target
    predictor = NonLinearNeck(
        in_channels=8, hid_channels=16, out_channels=8, with_last_bn=False, with_avg_pool=False
    ).double()
    head = LatentPredictHead(predictor=predictor)
    target = z.clone().requires_grad_(True)
    loss = head(p, target)
    assert math.isclose(
        float(loss.detach()), float(byol_loss(predictor(p), z).detach()), rel_tol=1e-10
    )
    loss.backward()
    assert target.grad is None  # the target takes no gradient


def test_patchify_orders_patches_row_major_and_pixels_row_column_channel():
    images = fixed(2, 3, 8, 8)
    patches = patchify(images, 4)
    assert patches.shape == (2, 4, 48)
    # patch 1 is the top-right 4x4 block; its first values are pixel (0, 4) in RGB
    assert torch.equal(patches[0, 1, :3], images[0, :, 0, 4])
    assert torch.equal(patches[0, 1].reshape(4, 4, 3), images[0, :, 0:4, 4:8].permute(1, 2, 0))


def test_mae_loss_counts_only_removed_patches_of_normalised_pixels():
    pred, target = fixed(2, 4, 6), fixed(2, 4, 6, seed=1)
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 1, 1]], dtype=torch.float64)
    total, count = 0.0, 0
    for b in range(2):
        for n in range(4):
            if mask[b, n]:
                t = target[b, n]
                t = (t - t.mean()) / math.sqrt(float(t.var()) + 1e-6)
                total += float(((pred[b, n] - t) ** 2).mean())
                count += 1
    assert math.isclose(float(mae_pixel_loss(pred, target, mask)), total / count, rel_tol=1e-10)
    raw = float(((pred - target) ** 2).mean(-1)[mask.bool()].mean())
    assert math.isclose(
        float(mae_pixel_loss(pred, target, mask, norm_pix=False)), raw, rel_tol=1e-10
    )
