"""NonFiniteLossHook: stop training at the first NaN or infinite loss."""

from __future__ import annotations

import math

import torch
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from labcore.errors import NonFiniteLossError
from labcore.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` naming the iteration and the loss terms that
    are NaN or infinite.

    It runs before the checkpoint and logger hooks of the same iteration, so no
    checkpoint with broken weights is written and every earlier checkpoint and log
    stays in the work dir.
    """

    priority = "ABOVE_NORMAL"

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs:
            return
        bad = {}
        for name, value in outputs.items():
            number = _as_float(value) if "loss" in name else None
            if number is not None and not math.isfinite(number):
                bad[name] = number
        if not bad:
            return
        terms = ", ".join(f"{name}={value}" for name, value in sorted(bad.items()))
        where = f"iteration {runner.iter + 1}"
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f" (epoch {runner.epoch + 1}, batch {batch_idx + 1})"
        raise NonFiniteLossError(
            f"Non-finite loss at {where}: {terms}. Training stopped; the checkpoints and logs "
            f"in {runner.work_dir} are kept. Lower the learning rate, add gradient clipping "
            f"(optim_wrapper.clip_grad) or check the data of this batch, then resume with "
            f"--resume."
        )


def _as_float(value) -> float | None:
    """``value`` as a python float when it is a number or a one-element tensor."""
    if isinstance(value, torch.Tensor):
        return float(value.detach()) if value.numel() == 1 else None
    if isinstance(value, (int, float)):
        return float(value)
    return None
