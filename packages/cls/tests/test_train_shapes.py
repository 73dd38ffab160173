"""End to end: the tiny ResNet config learns the synthetic shapes on a CPU."""

from __future__ import annotations

import pytest
import torch

from labcore.engine.config import load_config
from labcore.engine.training import build_runner


@pytest.fixture
def one_thread():
    """Convolutions this small run fastest on one thread; more threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_resnet18_tiny_shapes_reaches_90_percent(tmp_path, one_thread):
    cfg = load_config("labcls::resnet/resnet18_tiny_shapes.py")
    cfg.mlflow = False
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=-1)  # no files
    cfg.train_cfg.val_interval = 100  # validate only after the last epoch
    runner = build_runner(cfg, work_dir=tmp_path)
    runner.train()
    losses = runner.message_hub.get_scalar("train/loss").data[0]
    metrics = runner.val_loop.run()

    assert losses[:20].mean() > 1.9  # about ln(8): chance for 8 classes
    assert losses[-50:].mean() < 0.5 * losses[:20].mean()
    assert metrics["accuracy/top1"] >= 0.90
    assert metrics["single-label/f1-score"] >= 0.85
    assert metrics["confusion_matrix/result"].sum() == len(runner.val_dataloader.dataset)
