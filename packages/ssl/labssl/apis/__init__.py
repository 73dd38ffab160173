"""labssl's inference API (the codebase contract of labcore.codebase)."""

from labssl.apis.inference import format_result, inference, init_model, show_result

__all__ = ["format_result", "inference", "init_model", "show_result"]
