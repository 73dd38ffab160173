"""labdet's high-level API: init_model, inference, show_result."""

from labdet.apis.inference import format_result, inference, init_model, show_result

__all__ = ["format_result", "inference", "init_model", "show_result"]
