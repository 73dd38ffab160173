"""Learning for real: the tiny FCN trains on the synthetic shapes set on the CPU through
``labcore.engine.training.build_runner`` (the path of ``lab train``), its loss falls and
its mIoU on the held-out validation images reaches 0.6, far above the untrained model's."""

from __future__ import annotations

import pytest

from labcore.engine.config import load_config
from labcore.engine.training import build_runner


@pytest.mark.slow
def test_tiny_fcn_learns_on_shapes(tmp_path, one_thread, tiny_zoo):
    cfg = load_config("labseg::fcn/fcn_r18-d8_shapes.py")  # the seg-shapes-tiny budget
    cfg.mlflow = False
    cfg.randomness = dict(seed=0)
    cfg.default_hooks.logger.interval = 10
    runner = build_runner(cfg, work_dir=tmp_path)
    before = runner.val()
    runner.train()
    losses = runner.message_hub.get_scalar("train/loss").data[0]
    assert losses[-20:].mean() < 0.3 * losses[:20].mean()
    after = runner.val()
    # measured 0.621 (seed 0; seeds 1, 2: 0.626, 0.611) on one machine and 0.5997 (seed 0)
    # on another: this test runs unpinned, so its floor sits under both, far above the
    # untrained model's ~0.002
    assert after["seg/mIoU"] >= 0.5
    assert after["seg/mIoU"] > before["seg/mIoU"] + 0.5
    assert after["seg/IoU.background"] > 0.95
    shapes = [key for key in after if key.startswith("seg/IoU.") and key != "seg/IoU.background"]
    assert len(shapes) == 8 and all(after[key] > 0.2 for key in shapes)
