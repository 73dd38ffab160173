"""End to end: the tiny ResNet config learns the synthetic shapes on a CPU.

The run is the one the ``tiny_zoo`` fixture trains (once per test run, for the
detection tests that start from its weights): ``resnet18_tiny_shapes`` under the
cls-shapes-tiny protocol, seed 0, through labbench's worker, which trains with
``labcore.engine.training.build_runner`` as ``lab train`` does.
"""

from __future__ import annotations

import numpy as np
import pytest

from labbench.runfolder import RunFolder


@pytest.mark.slow
def test_resnet18_tiny_shapes_reaches_85_percent(tiny_zoo):
    (run_dir,) = (
        tiny_zoo.parent / "runs" / "cls-shapes-tiny-v1" / "resnet18_tiny_shapes"
    ).iterdir()
    folder = RunFolder(run_dir)
    result = folder.result()
    losses = np.array([r["train/loss"] for r in folder.scalars() if "train/loss" in r])

    # Seed 0 measured (AVX-512, the protocol's pinned kernels): first-20 loss 2.08, last-50
    # loss 0.12, top-1 0.9125, F1 0.91; chance is 0.125 for 8 classes. On 400 val images the
    # binomial standard error is 0.014, so 0.85 sits 4.5 errors below the measured value and
    # holds on other instruction sets, whose kernels give other weights. The 50 images per
    # class make macro recall equal top-1, so F1 tracks top-1; its lower bar catches classes
    # predicted unevenly.
    assert result["status"] == "finished"
    assert losses[:20].mean() > 1.9  # about ln(8): chance for 8 classes
    assert losses[-50:].mean() < 0.5 * losses[:20].mean()
    assert result["metrics"]["accuracy/top1"] >= 0.85
    assert result["metrics"]["single-label/f1-score"] >= 0.80
