"""Rotated detection metrics (registered in labrot's METRICS)."""

from labrot.evaluation.dota_metric import DOTAMetric, dota_map, match_class, voc_ap

__all__ = ["DOTAMetric", "dota_map", "match_class", "voc_ap"]
