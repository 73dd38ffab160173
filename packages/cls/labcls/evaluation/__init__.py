"""labcls metrics: top-k accuracy, per-class precision / recall / F1, confusion matrix."""

from labcls.evaluation.accuracy import Accuracy
from labcls.evaluation.confusion_matrix import ConfusionMatrix
from labcls.evaluation.single_label import SingleLabelMetric

__all__ = ["Accuracy", "ConfusionMatrix", "SingleLabelMetric"]
