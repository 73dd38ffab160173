"""The losses of the self-supervised methods, as plain functions of embeddings.

Each head (:mod:`labssl.models.heads`) holds a loss's hyper-parameters and calls one of
these; the tests check each against a reference written in plain torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def info_nce_loss(query: Tensor, key: Tensor, negatives: Tensor, temperature: float) -> Tensor:
    """MoCo's InfoNCE: each query against its key (the positive) and the queue.

    Args:
        query: Tensor[B, D], L2-normalised embeddings of one view (online encoder).
        key: Tensor[B, D], L2-normalised embeddings of the other view (momentum encoder).
        negatives: Tensor[K, D], L2-normalised embeddings of earlier batches (the queue).
        temperature: tau; logits are cosine similarities / tau.

    Returns:
        The mean over the batch of ``-log softmax([q.k, q.n_1, ..., q.n_K] / tau)[0]``.
    """
    positive = (query * key).sum(dim=1, keepdim=True)  # [B, 1]
    negative = query @ negatives.t()  # [B, K]
    return contrastive_loss(positive, negative, temperature)


def contrastive_loss(positive: Tensor, negative: Tensor, temperature: float) -> Tensor:
    """Cross-entropy of ``[positive, negative] / temperature`` with the positive (column
    0) as the target. positive: Tensor[N, 1]; negative: Tensor[N, K] similarities."""
    logits = torch.cat([positive, negative], dim=1) / temperature
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target)


def nt_xent_pairs(z: Tensor) -> tuple[Tensor, Tensor]:
    """The similarities NT-Xent compares, for a batch of pairs.

    Args:
        z: Tensor[2B, D] L2-normalised projections; rows ``i`` and ``i + B`` are the two
            views of image ``i``, every other row of the batch is a negative.

    Returns:
        positive Tensor[2B, 1] (each row's cosine to its pair) and negative
        Tensor[2B, 2B - 2] (its cosines to every other row but itself and its pair).
    """
    n = z.shape[0]
    if n % 2:
        raise ValueError(f"NT-Xent needs an even number of rows (pairs), got {n}")
    similarity = z @ z.t()  # [2B, 2B]
    rows = torch.arange(n, device=z.device)
    pair = rows.roll(n // 2)  # i <-> i + B
    positive = similarity[rows, pair][:, None]
    others = ~torch.eye(n, dtype=torch.bool, device=z.device)
    others[rows, pair] = False
    return positive, similarity[others].reshape(n, n - 2)


def nt_xent_loss(z: Tensor, temperature: float) -> Tensor:
    """SimCLR's NT-Xent: the mean over all 2B rows of ``z`` (Tensor[2B, D], normalised
    here; rows i and i + B a pair) of the cross-entropy of the row's cosines to the
    other 2B - 1 rows, over ``temperature``, with its pair as the target."""
    return contrastive_loss(*nt_xent_pairs(F.normalize(z, dim=1)), temperature)


def byol_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """BYOL's regression loss ``2 - 2 cos(prediction, target)``, mean over the batch.

    prediction: Tensor[B, D] (online predictor output); target: Tensor[B, D] (momentum
    target projection, no gradient flows into it).
    """
    cosine = F.cosine_similarity(prediction, target.detach(), dim=1)
    return (2 - 2 * cosine).mean()


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Tensor[B, C, H, W] -> Tensor[B, (H/p)(W/p), p*p*C], patches in row-major order,
    each patch flattened as (row, column, channel)."""
    b, c, h, w = images.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image size {h}x{w} is not a multiple of the patch size {p}")
    x = images.reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def mae_pixel_loss(
    prediction: Tensor, target: Tensor, mask: Tensor, *, norm_pix: bool = True
) -> Tensor:
    """MAE's reconstruction loss: mean squared error on the removed patches only.

    Args:
        prediction: Tensor[B, N, P] reconstructed patches (P = p*p*C).
        target: Tensor[B, N, P] the image's patches (:func:`patchify`).
        mask: Tensor[B, N], 1 for a removed (masked) patch, 0 for a visible one.
        norm_pix: normalise each target patch by its own mean and variance (eps 1e-6),
            as the paper's best setting does.

    Returns:
        ``sum_n mask_n * mean_P (pred - target)^2 / sum_n mask_n``.
    """
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    per_patch = ((prediction - target) ** 2).mean(dim=-1)  # [B, N]
    return (per_patch * mask).sum() / mask.sum()
