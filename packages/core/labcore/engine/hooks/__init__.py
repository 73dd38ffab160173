"""Hooks shared by every OpenLab codebase."""

from labcore.engine.hooks.non_finite_loss import NonFiniteLossHook
from labcore.engine.hooks.pipeline_switch import PipelineSwitchHook
from labcore.engine.hooks.rng_state import RNGStateHook, capture_rng_state, restore_rng_state

__all__ = [
    "NonFiniteLossHook",
    "PipelineSwitchHook",
    "RNGStateHook",
    "capture_rng_state",
    "restore_rng_state",
]
