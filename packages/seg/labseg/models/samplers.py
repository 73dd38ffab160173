"""Online hard example mining (OHEM) of pixels for the segmentation losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from labcore.errors import ConfigError
from labseg.registry import TASK_UTILS


@TASK_UTILS.register_module()
class OHEMPixelSampler:
    """Keep only the hard pixels of each batch for the loss.

    With ``thresh``: a pixel is hard when the softmax probability of its true class is
    below ``max(thresh, p_min_kept)``, where ``p_min_kept`` is the ``min_kept``-th lowest
    such probability of the batch (so at least ``min_kept`` pixels stay). Without
    ``thresh``: the ``min_kept`` pixels of highest cross-entropy stay.

    Args:
        thresh: probability threshold in (0, 1), or None.
        min_kept: least number of pixels kept per batch (all, if fewer are valid).
    """

    def __init__(self, *, thresh: float | None = None, min_kept: int = 100000):
        if thresh is not None and not 0.0 < thresh < 1.0:
            raise ConfigError(f"OHEMPixelSampler thresh must be in (0, 1), got {thresh}.")
        if min_kept < 1:
            raise ConfigError(f"OHEMPixelSampler min_kept must be >= 1, got {min_kept}.")
        self.thresh = thresh
        self.min_kept = min_kept

    @torch.no_grad()
    def sample(self, logits: Tensor, labels: Tensor, *, ignore_index: int = 255) -> Tensor:
        """logits Tensor[B, K, H, W], labels LongTensor[B, H, W] -> weights Tensor[B, H, W]
        of 1 for kept pixels and 0 for the others (and for ignored ones)."""
        valid = labels != ignore_index
        weight = torch.zeros_like(labels, dtype=logits.dtype)
        num_valid = int(valid.sum())
        if num_valid == 0:
            return weight
        kept = min(self.min_kept, num_valid)
        safe_labels = labels.clone()
        safe_labels[~valid] = 0
        if self.thresh is not None:
            probs = logits.softmax(dim=1).gather(1, safe_labels[:, None])[:, 0]
            valid_probs = probs[valid]
            threshold = max(self.thresh, float(valid_probs.sort().values[kept - 1]))
            weight[valid] = (valid_probs <= threshold).to(weight.dtype)
        else:
            losses = F.cross_entropy(logits, safe_labels, reduction="none")[valid]
            chosen = losses.topk(kept).indices
            valid_weight = torch.zeros_like(losses)
            valid_weight[chosen] = 1
            weight[valid] = valid_weight
        return weight
