"""Necks that only labdet's detectors use (labcore.models.necks has the shared ones)."""

from labdet.models.necks.channel_mapper import ChannelMapper

__all__ = ["ChannelMapper"]
