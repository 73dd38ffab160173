"""Segmentors: whole models from image batch to per-pixel predictions."""

from labseg.models.segmentors.encoder_decoder import EncoderDecoder

__all__ = ["EncoderDecoder"]
