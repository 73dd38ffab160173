"""Rotated detection metrics (registered in labrot's METRICS)."""

from labrot.evaluation.dota_metric import DOTAMetric, dota_map, match_class, voc_ap
from labrot.evaluation.dota_submission import write_task1_submission

__all__ = ["DOTAMetric", "dota_map", "match_class", "voc_ap", "write_task1_submission"]
