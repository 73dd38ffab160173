"""A tiny model with dropout, a random tensor dataset and a metric for the engine tests.

Imported by the engine and CLI tests (they put this folder on ``sys.path`` or
``PYTHONPATH``); configs made by :func:`toy_config_text` import it through
``custom_imports`` so the ``lab`` command in a subprocess finds it too.
"""

from __future__ import annotations

import os
import signal

import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from labcore.registry import DATASETS, HOOKS, METRICS, MODELS


@DATASETS.register_module(force=True)
class ToyRegressionDataset(Dataset):
    """``num_samples`` pairs (inputs Tensor[4], targets Tensor[1]) of a noisy linear map,
    drawn from a generator seeded with ``seed`` (independent of the global RNG).
    ``augment_noise`` adds Gaussian noise of that std to the inputs on every read, drawn
    from the global RNG (of the data-loader worker, when there are workers)."""

    metainfo = {"name": "toy-regression"}

    def __init__(
        self,
        *,
        num_samples: int = 32,
        seed: int = 0,
        nan_from: int | None = None,
        augment_noise: float = 0.0,
    ):
        self.augment_noise = augment_noise
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(num_samples, 4, generator=generator)
        weight = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        self.targets = self.inputs @ weight + 0.1 * torch.randn(num_samples, 1, generator=generator)
        if nan_from is not None:  # samples from this index on have a NaN target
            self.targets[nan_from:] = float("nan")

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict:
        inputs = self.inputs[index]
        if self.augment_noise:
            inputs = inputs + self.augment_noise * torch.randn(inputs.shape)
        return {"inputs": inputs, "targets": self.targets[index]}


@HOOKS.register_module(force=True)
class KillProcessAfterCheckpoint(Hook):
    """Kills its own process with SIGKILL right after the checkpoint of epoch ``epoch``
    is saved, before the validation that follows it."""

    priority = "LOWEST"  # after CheckpointHook

    def __init__(self, epoch: int):
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


@MODELS.register_module(force=True)
class ToyDropoutNet(BaseModel):
    """Linear(4, 16) -> ReLU -> Dropout(dropout) -> Linear(16, 1), trained with MSE.

    forward(inputs Tensor[B, 4], targets Tensor[B, 1]) returns ``{"loss": mse}`` in
    ``loss`` mode and a list of ``{"pred", "target"}`` dicts in ``predict`` mode.
    """

    def __init__(self, *, hidden: int = 16, dropout: float = 0.5, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.net = nn.Sequential(
            nn.Linear(4, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, inputs, targets=None, mode: str = "tensor"):
        out = self.net(inputs)
        if mode == "loss":
            return {"loss": nn.functional.mse_loss(out, targets)}
        if mode == "predict":
            return [{"pred": p, "target": t} for p, t in zip(out, targets)]
        return out


@METRICS.register_module(force=True)
class ToyMSEMetric(BaseMetric):
    """Mean squared error of the predictions, reported as ``mse``."""

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            self.results.append(float(((sample["pred"] - sample["target"]) ** 2).mean()))

    def compute_metrics(self, results) -> dict:
        return {"mse": sum(results) / len(results)}


def toy_config_text(
    *,
    by_epoch: bool = True,
    max_length: int = 4,
    interval: int = 1,
    nan_from: int | None = None,
    mlflow: bool = False,
    dropout: float = 0.5,
    batch_size: int = 8,
    num_workers: int = 0,
    augment_noise: float = 0.0,
    kill_after_epoch: int | None = None,
) -> str:
    """A config file's text: the labcore runtime base, the toy model and data, SGD with
    momentum and a step schedule; ``max_length`` epochs or iterations, checkpoints and
    validation every ``interval``; ``batch_size`` samples per process, loaded by
    ``num_workers`` workers with ``augment_noise``; ``kill_after_epoch`` adds
    :class:`KillProcessAfterCheckpoint`."""
    if by_epoch:
        loop = f"dict(type='EpochBasedTrainLoop', max_epochs={max_length}, val_interval={interval})"
        sampler = "dict(type='DefaultSampler', shuffle=True)"
        scheduler = "dict(type='MultiStepLR', milestones=[2], gamma=0.5, by_epoch=True)"
    else:
        loop = f"dict(type='IterBasedTrainLoop', max_iters={max_length}, val_interval={interval})"
        sampler = "dict(type='InfiniteSampler', shuffle=True)"
        scheduler = "dict(type='MultiStepLR', milestones=[5], gamma=0.5, by_epoch=False)"
    return f"""
_base_ = ['labcore::_base_/default_runtime.py']
custom_imports = dict(imports=['lab_engine_toy'], allow_failed_imports=False)
default_scope = 'labcore'
model = dict(type='ToyDropoutNet', dropout={dropout})
train_dataloader = dict(
    batch_size={batch_size}, num_workers={num_workers}, persistent_workers=False,
    dataset=dict(type='ToyRegressionDataset', num_samples=32, seed=1, nan_from={nan_from},
                 augment_noise={augment_noise}),
    sampler={sampler}, collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    batch_size=8, num_workers=0,
    dataset=dict(type='ToyRegressionDataset', num_samples=16, seed=2),
    sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ToyMSEMetric')
test_evaluator = val_evaluator
train_cfg = {loop}
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
param_scheduler = [{scheduler}]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval={interval}, by_epoch={by_epoch},
                    max_keep_ckpts=-1))
log_processor = dict(by_epoch={by_epoch})
randomness = dict(seed=0, deterministic=True)
mlflow = {mlflow}
""" + (
        "custom_hooks = [dict(type='RNGStateHook'), dict(type='NonFiniteLossHook'), "
        f"dict(type='KillProcessAfterCheckpoint', epoch={kill_after_epoch})]\n"
        if kill_after_epoch is not None
        else ""
    )
