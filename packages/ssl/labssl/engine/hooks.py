"""The momentum-update hook of MoCo and BYOL."""

from __future__ import annotations

import math

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from labcore.errors import ConfigError
from labssl.registry import HOOKS

SCHEDULES = ("constant", "cosine")


def momentum_at(base: float, step: int, total: int, *, schedule: str, end: float = 1.0) -> float:
    """The momentum after ``step`` of ``total`` iterations.

    ``constant``: ``base`` (MoCo). ``cosine``: ``end - (end - base) * (cos(pi * step /
    total) + 1) / 2``, from ``base`` at step 0 to ``end`` at the last step (BYOL).
    """
    if schedule == "constant":
        return base
    return end - (end - base) * (math.cos(math.pi * step / max(total, 1)) + 1) / 2


@HOOKS.register_module()
class MomentumUpdateHook(Hook):
    """After every optimizer step, move the model's momentum encoder towards its online
    encoder: ``target = m * target + (1 - m) * online``, m from the schedule starting at
    the model's ``base_momentum`` (see :func:`momentum_at`).

    Args:
        schedule: 'constant' (MoCo v2) or 'cosine' (BYOL).
        end_momentum: where the cosine schedule ends (1.0).
    """

    priority = "ABOVE_NORMAL"  # before checkpoints and the EMA of labcls

    def __init__(self, *, schedule: str = "constant", end_momentum: float = 1.0):
        if schedule not in SCHEDULES:
            raise ConfigError(
                f"MomentumUpdateHook.schedule is '{schedule}'; choose one of {SCHEDULES}."
            )
        self.schedule = schedule
        self.end_momentum = end_momentum

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, "momentum_update"):
            raise ConfigError(
                f"MomentumUpdateHook is in the config, but {type(model).__name__} has no "
                "momentum encoder (momentum_update); remove the hook from custom_hooks."
            )

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # runner.iter counts the iterations done before this one
        momentum = momentum_at(
            model.base_momentum,
            runner.iter,
            runner.max_iters,
            schedule=self.schedule,
            end=self.end_momentum,
        )
        model.momentum_update(momentum)
        runner.message_hub.update_scalar("train/momentum", momentum)
