"""labcore.engine.training: deterministic training and exact resume with build_runner.

A tiny model with dropout (tests/lab_engine_toy.py) trains on random tensors; the
references are runs of the same config without interruption.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook

from labcore.engine.hooks import RNGStateHook
from labcore.engine.training import build_runner
from labcore.errors import NonFiniteLossError

TESTS_DIR = Path(__file__).parent


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    import lab_engine_toy

    return lab_engine_toy


def _config(tmp_path: Path, name: str, **kwargs) -> Path:
    import lab_engine_toy

    path = tmp_path / f"{name}.py"
    path.write_text(lab_engine_toy.toy_config_text(**kwargs))
    return path


class Killed(Exception):
    """Stands for the process being killed."""


class KillAfterCheckpoint(Hook):
    """Ends training right after the checkpoint of epoch or iteration ``step`` is saved
    (before the validation that follows it), as a killed job would."""

    priority = "LOWEST"  # after CheckpointHook

    def __init__(self, step: int, by_epoch: bool):
        self.step, self.by_epoch = step, by_epoch

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and runner.epoch + 1 == self.step:
            raise Killed

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self.by_epoch and runner.iter + 1 == self.step:
            raise Killed


def _train(config: Path, work_dir: Path, *, resume=False, without_hook=None, kill=None):
    runner = build_runner(config, work_dir=work_dir, resume=resume)
    runner.logger.setLevel(logging.WARNING)
    if without_hook is not None:
        runner._hooks = [h for h in runner._hooks if not isinstance(h, without_hook)]
    if kill is not None:
        runner.register_hook(kill)
        with pytest.raises(Killed):
            runner.train()
        return None
    runner.train()
    losses = torch.tensor(runner.message_hub.get_scalar("train/loss")._log_history)
    metrics = torch.tensor(runner.message_hub.get_scalar("val/mse")._log_history)
    weights = {k: v.clone() for k, v in runner.model.state_dict().items()}
    return losses, metrics, weights


def _assert_same_run(a, b, skipped_validation: int | None = None) -> None:
    """Same losses, validation metrics and weights; ``skipped_validation`` is the index
    of the validation that the killed run of ``b`` did not reach."""
    losses_a, metrics_a, weights_a = a
    losses_b, metrics_b, weights_b = b
    assert torch.equal(losses_a, losses_b)
    if skipped_validation is not None:
        keep = [i for i in range(len(metrics_a)) if i != skipped_validation]
        metrics_a = metrics_a[keep]
    assert torch.equal(metrics_a, metrics_b)
    assert weights_a.keys() == weights_b.keys()
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key


def _differs(a, b) -> bool:
    return not torch.equal(a[0], b[0]) or any(not torch.equal(a[2][k], b[2][k]) for k in a[2])


def test_two_seeded_trainings_are_bit_identical(tmp_path):
    config = _config(tmp_path, "toy", max_length=3)
    first = _train(config, tmp_path / "a")
    second = _train(config, tmp_path / "b")
    assert len(first[0]) == 3 * 4  # 3 epochs of 4 batches
    _assert_same_run(first, second)


@pytest.mark.parametrize("by_epoch", [True, False], ids=["epoch-loop", "iter-loop"])
def test_resumed_run_matches_uninterrupted_run(tmp_path, by_epoch):
    length, stop, interval = (4, 2, 1) if by_epoch else (12, 6, 3)
    config = _config(tmp_path, "toy", by_epoch=by_epoch, max_length=length, interval=interval)
    straight = _train(config, tmp_path / "straight")
    work_dir = tmp_path / "interrupted"
    _train(config, work_dir, kill=KillAfterCheckpoint(stop, by_epoch))
    resumed = _train(config, work_dir, resume=True)
    _assert_same_run(straight, resumed, skipped_validation=stop // interval - 1)


def _straight_and_resumed(tmp_path, **resume_kwargs):
    config = _config(tmp_path, "toy", max_length=4)
    straight = _train(config, tmp_path / "straight")
    _train(config, tmp_path / "interrupted", kill=KillAfterCheckpoint(2, True))
    resumed = _train(config, tmp_path / "interrupted", resume=True, **resume_kwargs)
    return straight, resumed


def test_resume_without_rng_restore_diverges(tmp_path):
    """The check above is not vacuous: without RNGStateHook the dropout masks after the
    resume differ from the uninterrupted run."""
    straight, resumed = _straight_and_resumed(tmp_path, without_hook=RNGStateHook)
    assert _differs(straight, resumed)


def test_validation_that_draws_random_numbers_diverges_without_fork(tmp_path, monkeypatch):
    """Validation creates a DataLoader iterator, which draws from torch's generator; when
    RNGStateHook does not fork the stream around validation, resume diverges."""
    monkeypatch.setattr(RNGStateHook, "before_val", lambda self, runner: None)
    monkeypatch.setattr(RNGStateHook, "after_val", lambda self, runner: None)
    straight, resumed = _straight_and_resumed(tmp_path)
    assert _differs(straight, resumed)


def test_nan_loss_stops_at_the_iteration_and_keeps_the_work_dir(tmp_path):
    # 32 samples, batch 8, no shuffling needed: with NaN targets from sample 0 of the
    # second epoch... here every target from index 0 is NaN, so iteration 1 fails.
    config = _config(tmp_path, "nan", max_length=2, nan_from=0)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    (work_dir / "notes.txt").write_text("kept")
    with pytest.raises(NonFiniteLossError, match=r"iteration 1 \(epoch 1, batch 1\).*loss=nan"):
        _train(config, work_dir)
    assert (work_dir / "notes.txt").read_text() == "kept"
    assert not list(work_dir.glob("*.pth"))


def test_build_runner_adds_default_hooks_and_drops_mlflow_when_disabled(tmp_path):
    config = _config(tmp_path, "toy", max_length=1)
    runner = build_runner(config, work_dir=tmp_path / "w")
    names = [type(h).__name__ for h in runner._hooks]
    assert "RNGStateHook" in names and "NonFiniteLossHook" in names
    assert [type(b).__name__ for b in runner.visualizer._vis_backends.values()] == [
        "LocalVisBackend"
    ]
    assert runner.cfg.env_cfg.dist_cfg.backend == "auto"


def _two_epochs_of_worker_draws(worker_init_fn: dict | None) -> list[torch.Tensor]:
    """The noise of two epochs from 2 workers that add noise drawn from torch's
    generator to every sample they read, as random augmentation does."""
    import lab_engine_toy
    from mmengine.runner import Runner

    dataset = lab_engine_toy.ToyRegressionDataset(num_samples=8, augment_noise=1.0)
    cfg = dict(
        batch_size=4,
        num_workers=2,
        dataset=dataset,
        sampler=dict(type="DefaultSampler", shuffle=False),
        collate_fn=dict(type="default_collate"),
    )
    if worker_init_fn is not None:
        cfg["worker_init_fn"] = worker_init_fn
    torch.manual_seed(0)
    loader = Runner.build_dataloader(cfg, seed=0)
    return [torch.cat([batch["inputs"] for batch in loader]) - dataset.inputs for _ in range(2)]


def test_workers_draw_new_numbers_every_epoch_where_mmengine_repeats_them():
    first, second = _two_epochs_of_worker_draws(worker_init_fn=None)  # MMEngine's seeding
    assert torch.equal(first, second)
    first, second = _two_epochs_of_worker_draws(dict(type="labcore.seed_worker"))
    assert not torch.equal(first, second)
    assert not torch.equal(first[:4], first[4:])  # worker 0 and worker 1 draw differently
    again = _two_epochs_of_worker_draws(dict(type="labcore.seed_worker"))
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])  # reproducible


def test_build_runner_seeds_workers_unless_the_config_says_otherwise(tmp_path):
    config = _config(tmp_path, "toy", max_length=1)
    runner = build_runner(config, work_dir=tmp_path / "w")
    assert runner.cfg.train_dataloader.worker_init_fn.type == "labcore.seed_worker"
    assert runner.cfg.val_dataloader.worker_init_fn.type == "labcore.seed_worker"


def test_resume_without_last_checkpoint_continues_from_the_newest_checkpoint(tmp_path):
    """A work dir with epoch_1.pth .. epoch_3.pth but no last_checkpoint file (copied
    without it, or written by another tool) resumes from epoch 3, not from scratch."""
    config = _config(tmp_path, "toy", max_length=4)
    work_dir = tmp_path / "interrupted"
    _train(config, work_dir, kill=KillAfterCheckpoint(3, True))
    (work_dir / "last_checkpoint").unlink()
    runner = build_runner(config, work_dir=work_dir, resume=True)
    runner.logger.setLevel(logging.WARNING)
    started = []

    class RecordStart(Hook):
        def before_train(self, runner) -> None:
            started.append(runner.epoch)

    runner.register_hook(RecordStart())
    runner.train()
    assert started == [3]  # three epochs done, the fourth trained


def test_resume_refuses_checkpoints_it_cannot_order(tmp_path):
    from labcore.engine.training import latest_checkpoint
    from labcore.errors import ConfigError

    assert latest_checkpoint(tmp_path) is None  # nothing there: a fresh start
    (tmp_path / "best_mse.pth").write_bytes(b"")
    (tmp_path / "model.pth").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"only best_mse.pth, model.pth.*--resume .*model.pth"):
        latest_checkpoint(tmp_path)
    (tmp_path / "iter_20.pth").write_bytes(b"")
    (tmp_path / "iter_100.pth").write_bytes(b"")
    assert latest_checkpoint(tmp_path) == tmp_path / "iter_100.pth"


def test_no_validation_when_the_interval_is_longer_than_the_training(tmp_path):
    config = _config(tmp_path, "toy", max_length=2)
    from labcore.engine.config import load_config

    asked = build_runner(load_config(config), work_dir=tmp_path / "a")
    assert asked.val_loop is not None  # every epoch, as the config says
    not_asked = load_config(config, {"train_cfg.val_interval": 3})
    runner = build_runner(not_asked, work_dir=tmp_path / "b")
    assert runner.cfg.val_dataloader is None and runner.cfg.val_evaluator is None
    runner.train()  # MMEngine alone would validate at epoch 2 and save a best checkpoint
    assert runner.val_loop is None and not list((tmp_path / "b").glob("best_*.pth"))
