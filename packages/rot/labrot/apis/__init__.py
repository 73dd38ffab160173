"""labrot's high-level API: init_model, inference, format_result, show_result."""

from labrot.apis.inference import format_result, inference, init_model, show_result

__all__ = ["format_result", "inference", "init_model", "show_result"]
