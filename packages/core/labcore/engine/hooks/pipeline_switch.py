"""PipelineSwitchHook: a new training pipeline from a given epoch on.

Real-time detectors (RTMDet, YOLOX) train most epochs under strong augmentation (Mosaic,
MixUp) and the last few under a plain one, so that the model ends on images like the
ones it is tested on.
"""

from __future__ import annotations

from typing import Any

from mmengine.dataset import Compose
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from labcore.errors import ConfigError
from labcore.registry import HOOKS


def dataset_with_pipeline(dataset: Any) -> Any:
    """The data set that applies the pipeline: ``dataset`` itself or the one a wrapper
    (``RepeatDataset``, ``ClassBalancedDataset``, a ``Subset``) holds as ``.dataset``."""
    seen = dataset
    while not hasattr(seen, "pipeline"):
        if not hasattr(seen, "dataset"):
            raise ConfigError(
                f"PipelineSwitchHook: the training data set {type(dataset).__name__} has no "
                "`pipeline` (nor does any data set it wraps); the hook switches the pipeline "
                "of an MMEngine BaseDataset."
            )
        seen = seen.dataset
    return seen


@HOOKS.register_module()
class PipelineSwitchHook(Hook):
    """From epoch ``switch_epoch`` (0-based: the first epoch that runs with it) on, the
    training data set applies ``switch_pipeline`` instead of its own (epoch-based training
    loops only).

    The switch is a function of the epoch, so a run resumed after ``switch_epoch`` starts
    with the new pipeline. Persistent dataloader workers hold their own copy of the data
    set; they are shut down at the switch so that the next epoch starts new workers that
    carry the new pipeline.

    Args:
        switch_epoch: the first epoch trained with ``switch_pipeline``.
        switch_pipeline: transform configs, as a data set's ``pipeline``, built in the
            runner's registry scope.
    """

    priority = "NORMAL"

    def __init__(self, switch_epoch: int, switch_pipeline: list[dict]):
        if switch_epoch < 0:
            raise ConfigError(
                f"PipelineSwitchHook: switch_epoch={switch_epoch} is negative; give the first "
                "(0-based) epoch that trains with switch_pipeline."
            )
        if not switch_pipeline:
            raise ConfigError("PipelineSwitchHook: switch_pipeline is empty; list its transforms.")
        self.switch_epoch = int(switch_epoch)
        self.switch_pipeline = list(switch_pipeline)
        self.switched = False

    def before_train(self, runner) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise ConfigError(
                f"PipelineSwitchHook switches at an epoch, but the training loop is "
                f"{type(runner.train_loop).__name__}; use it with an epoch-based loop "
                "(train_cfg = dict(by_epoch=True, max_epochs=...))."
            )

    def before_train_epoch(self, runner) -> None:
        if self.switched or runner.epoch < self.switch_epoch:
            return
        loader = runner.train_loop.dataloader
        dataset_with_pipeline(loader.dataset).pipeline = Compose(self.switch_pipeline)
        iterator = getattr(loader, "_iterator", None)
        if iterator is not None:  # persistent workers: start new ones with the new pipeline
            iterator._shutdown_workers()
            loader._iterator = None
        self.switched = True
        runner.logger.info(
            f"PipelineSwitchHook: from epoch {runner.epoch + 1} on, the training pipeline is "
            f"{[t.get('type') for t in self.switch_pipeline]}"
        )
