"""k-NN accuracy against a plain loop over queries, and its evaluation loop."""

import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from labcore.errors import ConfigError
from labssl.evaluation import KNNAccuracy, knn_scores


def reference_knn(query, bank, labels, k, t, num_classes):
    """The weighted vote of DINO's / MMPretrain's k-NN, one query at a time."""
    out = []
    for q in query:
        sims = [
            (float(F.cosine_similarity(q, b, dim=0)), int(label)) for b, label in zip(bank, labels)
        ]
        sims.sort(key=lambda s: -s[0])
        votes = [0.0] * num_classes
        for sim, label in sims[:k]:
            votes[label] += math.exp(sim / t)
        out.append(votes)
    return torch.tensor(out, dtype=torch.float64)


def test_knn_scores_match_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    bank, query = torch.randn(50, 6, generator=g), torch.randn(7, 6, generator=g)
    labels = torch.randint(0, 4, (50,), generator=g)
    scores = knn_scores(query, bank, labels, num_classes=4, k=20, temperature=0.07, chunk=3)
    expected = reference_knn(query, bank, labels, 20, 0.07, 4)
    torch.testing.assert_close(scores.double(), expected, rtol=1e-4, atol=0)
    # k above the bank size uses the whole bank
    small = knn_scores(query, bank[:5], labels[:5], num_classes=4, k=20)
    torch.testing.assert_close(
        small.double(), reference_knn(query, bank[:5], labels[:5], 5, 0.07, 4), rtol=1e-4, atol=0
    )


def test_knn_accuracy_classifies_clusters_and_needs_a_bank():
    centres = torch.eye(3) * 5
    g = torch.Generator().manual_seed(1)
    bank = torch.cat([centres[c] + 0.1 * torch.randn(10, 3, generator=g) for c in range(3)])
    labels = torch.arange(3).repeat_interleave(10)
    metric = KNNAccuracy(k=5, topk=(1,))
    samples = [
        BaseDataElement(
            features=centres[c] + 0.1 * torch.randn(3, generator=g), gt_label=torch.tensor([c])
        )
        for c in (0, 1, 2, 2)
    ]
    metric.process(None, [s.to_dict() for s in samples])
    with pytest.raises(ConfigError, match="KNNValLoop"):
        metric.compute_metrics(metric.results)
    metric.set_bank(bank, labels)
    assert metric.compute_metrics(metric.results) == {"top1": 1.0}
