"""labcls's inference API (the codebase contract of labcore.codebase)."""

from labcls.apis.inference import format_result, inference, init_model, show_result, top_classes

__all__ = ["format_result", "inference", "init_model", "show_result", "top_classes"]
