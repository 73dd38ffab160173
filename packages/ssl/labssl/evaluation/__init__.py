"""labssl's evaluation: k-NN accuracy on frozen features (labcls's Accuracy scores the
linear probe)."""

import labcls.evaluation  # noqa: F401  (Accuracy, which probe configs name)
from labssl.evaluation.knn import KNNAccuracy, knn_scores

__all__ = ["KNNAccuracy", "knn_scores"]
