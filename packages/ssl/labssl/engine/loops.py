"""Validation and test loops that embed a labelled feature bank before evaluating, for
:class:`labssl.evaluation.KNNAccuracy`."""

from __future__ import annotations

import torch
from mmengine.dist import collect_results
from mmengine.runner import TestLoop, ValLoop

from labssl.evaluation.knn import KNNAccuracy
from labssl.registry import LOOPS


@torch.no_grad()
def embed_bank(runner, dataloader) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The model's ``features`` and the ``gt_label`` of every sample of ``dataloader``:
    (Tensor[N, C], Tensor[N]) on rank 0 (gathered from every process), None elsewhere."""
    runner.model.eval()
    items = []
    for batch in dataloader:
        for sample in runner.model.val_step(batch):
            items.append((sample.features.float().cpu(), sample.gt_label.cpu().reshape(-1)[:1]))
    items = collect_results(items, len(dataloader.dataset), device="cpu")
    if items is None:
        return None
    return torch.stack([f for f, _ in items]), torch.cat([label for _, label in items])


def give_bank(runner, dataloader, evaluator) -> None:
    """Embed the bank and hand it to every KNNAccuracy of ``evaluator``."""
    metrics = [m for m in evaluator.metrics if isinstance(m, KNNAccuracy)]
    if not metrics:
        return
    bank = embed_bank(runner, dataloader)
    if bank is not None:
        for metric in metrics:
            metric.set_bank(*bank)


def _build(runner, dataloader):
    return (
        runner.build_dataloader(dataloader, seed=runner.seed)
        if isinstance(dataloader, dict)
        else dataloader
    )


@LOOPS.register_module()
class KNNValLoop(ValLoop):
    """MMEngine's ValLoop that first embeds ``bank_dataloader`` (the labelled train
    split, with the evaluation pipeline) for the evaluator's KNNAccuracy metrics.

    Args:
        bank_dataloader: dataloader config (or object) of the bank.
        runner, dataloader, evaluator, fp16: as in ValLoop.
    """

    def __init__(self, runner, dataloader, evaluator, *, bank_dataloader, fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        self.bank_dataloader = _build(runner, bank_dataloader)

    def run(self) -> dict:
        give_bank(self.runner, self.bank_dataloader, self.evaluator)
        return super().run()


@LOOPS.register_module()
class KNNTestLoop(TestLoop):
    """MMEngine's TestLoop with the bank of :class:`KNNValLoop`."""

    def __init__(self, runner, dataloader, evaluator, *, bank_dataloader, fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        self.bank_dataloader = _build(runner, bank_dataloader)

    def run(self) -> dict:
        give_bank(self.runner, self.bank_dataloader, self.evaluator)
        return super().run()
