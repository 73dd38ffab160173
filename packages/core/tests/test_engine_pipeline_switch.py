"""PipelineSwitchHook: the training pipeline changes at the given epoch, in persistent
dataloader workers too, and a run resumed after the switch starts with the new one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.dataset import Compose
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch.utils.data import Dataset

from labcore.engine.hooks import PipelineSwitchHook
from labcore.errors import ConfigError
from labcore.registry import DATASETS, HOOKS, TRANSFORMS


@TRANSFORMS.register_module(force=True)
class _StampTarget:
    """Writes ``value`` as the sample's target, so the batch shows which pipeline ran."""

    def __init__(self, value: float):
        self.value = value

    def __call__(self, results: dict) -> dict:
        results["targets"] = torch.tensor([self.value])
        return results


@DATASETS.register_module(force=True)
class _PipelineToyDataset(Dataset):
    """Eight samples ``inputs`` Tensor[4] passed through ``pipeline``."""

    def __init__(self, pipeline: list[dict]):
        self.pipeline = Compose(pipeline)

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        return self.pipeline({"inputs": torch.full((4,), float(index))})


class _RecordTargets(Hook):
    def __init__(self):
        self.seen: dict[int, set[float]] = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.seen.setdefault(runner.epoch, set()).update(data_batch["targets"].flatten().tolist())


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    """lab_engine_toy (ToyDropoutNet) importable from this folder."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import lab_engine_toy  # noqa: F401


def _runner(
    tmp_path, *, num_workers: int, max_epochs: int = 3, switch_epoch: int = 1, name: str = "first"
):
    recorder = _RecordTargets()
    runner = Runner(
        model=dict(type="ToyDropoutNet", dropout=0.0),
        work_dir=str(tmp_path),
        experiment_name=f"{tmp_path.name}-{name}",
        train_dataloader=dict(
            batch_size=4,
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            dataset=dict(type="_PipelineToyDataset", pipeline=[dict(type="_StampTarget", value=1)]),
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        custom_hooks=[
            dict(
                type="PipelineSwitchHook",
                switch_epoch=switch_epoch,
                switch_pipeline=[dict(type="_StampTarget", value=2)],
            ),
            recorder,
        ],
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1)),
        default_scope="labcore",
        env_cfg=dict(dist_cfg=dict(backend="gloo")),
    )
    return runner, recorder


@pytest.mark.parametrize("num_workers", [0, 2])
def test_the_pipeline_switches_at_its_epoch(tmp_path, num_workers):
    runner, recorder = _runner(tmp_path, num_workers=num_workers)
    runner.train()
    assert recorder.seen == {0: {1.0}, 1: {2.0}, 2: {2.0}}


def test_a_run_resumed_after_the_switch_starts_with_the_new_pipeline(tmp_path):
    first, _ = _runner(tmp_path, num_workers=0, max_epochs=2, switch_epoch=2)
    first.train()  # epochs 0 and 1 under the first pipeline, checkpoint after epoch 1
    resumed, recorder = _runner(
        tmp_path, num_workers=0, max_epochs=3, switch_epoch=2, name="resumed"
    )
    resumed._resume = True
    resumed.train()
    assert recorder.seen == {2: {2.0}}


def test_the_hook_refuses_an_empty_pipeline_and_a_data_set_without_one():
    with pytest.raises(ConfigError, match="switch_pipeline is empty"):
        PipelineSwitchHook(switch_epoch=1, switch_pipeline=[])
    assert HOOKS.get("PipelineSwitchHook") is PipelineSwitchHook
    from labcore.engine.hooks.pipeline_switch import dataset_with_pipeline

    with pytest.raises(ConfigError, match="has no `pipeline`"):
        dataset_with_pipeline(torch.utils.data.TensorDataset(torch.zeros(2)))


def test_the_hook_refuses_an_iteration_based_loop(tmp_path):
    runner, _ = _runner(tmp_path, num_workers=0)
    runner._train_loop = dict(type="IterBasedTrainLoop", max_iters=4)
    with pytest.raises(ConfigError, match="epoch-based loop"):
        runner.train()
