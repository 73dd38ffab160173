"""MMEngine's EMAHook as the labcls ImageNet configs use it, in a real training.

The ConvNeXt and ViT configs average their weights with
``custom_hooks = [dict(type="EMAHook", momentum=..., priority="ABOVE_NORMAL")]``. Here
that hook entry trains with the tiny ResNet-18 shapes config for one short epoch: after
every step the averaged weights must equal a plain-torch exponential moving average of
the trained weights, and validation must run on the averaged weights and hand the
trained ones back afterwards.
"""

from __future__ import annotations

import torch
from mmengine.hooks import EMAHook, Hook

from labcore.engine.config import load_config
from labcore.engine.training import build_runner

EMA_CONFIG = "labcls::convnext/convnext-tiny_32xb128_in1k.py"


def flat_parameters(model: torch.nn.Module) -> torch.Tensor:
    """Tensor[P] float64: a copy of all of ``model``'s parameters, in registration order."""
    return torch.cat([p.detach().double().flatten() for p in model.parameters()])


class RecordWeights(Hook):
    """Copies of the weights after every training step (the trained and the averaged ones,
    once EMAHook has updated the average), the weights validation runs on, and the
    weights after validation."""

    priority = "LOW"  # after EMAHook (ABOVE_NORMAL) in every stage

    def __init__(self):
        self.trained, self.averaged, self.validated, self.after_validation = [], [], [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        ema_hook = next(h for h in runner.hooks if isinstance(h, EMAHook))
        self.trained.append(flat_parameters(runner.model))
        self.averaged.append(flat_parameters(ema_hook.ema_model.module))

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        if batch_idx == 0:
            self.validated.append(flat_parameters(runner.model))

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.after_validation.append(flat_parameters(runner.model))


def test_ema_follows_plain_torch_average_and_validation_uses_it(shapes_cls, tmp_path, one_thread):
    (ema_entry,) = [h for h in load_config(EMA_CONFIG).custom_hooks if h.type == "EMAHook"]
    momentum = ema_entry.momentum
    assert momentum == 1e-4 and ema_entry.priority == "ABOVE_NORMAL"

    cfg = load_config("labcls::resnet/resnet18_tiny_shapes.py")
    cfg.mlflow = False
    cfg.default_hooks.checkpoint = None
    cfg.custom_hooks = [ema_entry]
    for loader in (cfg.train_dataloader, cfg.val_dataloader):  # the small test set
        loader.dataset.update(generate=None, data_root=str(shapes_cls))
    cfg.train_dataloader.batch_size = 16  # 200 images: 13 steps
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    # a constant, large step, so that a momentum of 1e-4 moves the average measurably
    cfg.optim_wrapper.optimizer.lr = 0.05
    cfg.param_scheduler = None
    runner = build_runner(cfg, work_dir=tmp_path)
    record = RecordWeights()
    runner.register_hook(record)
    runner.train()
    assert len(record.trained) == 13

    # MMEngine's ExponentialMovingAverage: the first update copies the weights, every
    # later one is average = (1 - momentum) * average + momentum * weights. float32 rounds
    # each in-place update once: about one unit of eps of the value per step.
    rtol = len(record.trained) * torch.finfo(torch.float32).eps
    reference = record.trained[0]
    for step, (trained, averaged) in enumerate(zip(record.trained, record.averaged)):
        if step > 0:
            reference = (1 - momentum) * reference + momentum * trained
        torch.testing.assert_close(averaged, reference, rtol=rtol, atol=1e-9)
    # the check has teeth: nearly every averaged weight left its start by more than 100
    # times the tolerance, and the average trails the trained weights by far more
    moved = (reference - record.trained[0]).abs()
    assert (moved > 100 * rtol * reference.abs()).double().mean() > 0.9
    assert (reference - record.trained[-1]).abs().max() > 0.1

    # validation swaps the averaged weights in, then the trained weights back
    assert len(record.validated) == len(record.after_validation) == 1
    assert torch.equal(record.validated[0], record.averaged[-1])
    assert torch.equal(record.after_validation[0], record.trained[-1])
