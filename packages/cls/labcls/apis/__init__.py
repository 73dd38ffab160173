"""labcls's high-level API: init_model, inference, show_result."""

from labcls.apis.inference import (
    format_result,
    inference,
    init_model,
    load_state_dict_checked,
    show_result,
)

__all__ = ["format_result", "inference", "init_model", "load_state_dict_checked", "show_result"]
