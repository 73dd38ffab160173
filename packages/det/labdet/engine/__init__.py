"""Training-time hooks of labdet (registered in labdet's HOOKS)."""

from labdet.engine.visualization_hook import DetVisualizationHook

__all__ = ["DetVisualizationHook"]
