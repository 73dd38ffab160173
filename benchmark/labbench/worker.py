"""One benchmark run in its own process: ``python -m labbench.worker RUN_DIR``.

The run folder holds ``config.py`` (the resolved config) and ``run.json`` (seed, mode,
metric, input size, launcher), written by the sweep. The worker trains, evaluates, saves
the weights and writes, on rank 0:

* ``progress.json``  current iteration and total, rewritten as training goes;
* ``scalars.jsonl``  one line per training iteration (loss terms, learning rate) and per
                     evaluation;
* ``result.json``    status ``finished`` with metrics, train time, peak memory,
                     parameters and FLOPs, or status ``failed`` with the traceback.

The worker never talks to MLflow: the sweep logs results from these files, so a
tracking server that goes away cannot stop or lose a training run.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from labcore.errors import NonFiniteLossError


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def _scalar(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, int | float):
        return float(value)
    return None


class BenchmarkRecordHook(Hook):
    """Records progress, per-iteration scalars and evaluation metrics into the run folder,
    stops the run at the first non-finite loss, and (dry runs) after ``stop_after_epochs``."""

    priority = "VERY_LOW"

    def __init__(self, run_dir: Path, *, write: bool, stop_after_epochs: int | None = None):
        self.run_dir = run_dir
        self.write = write
        self.stop_after_epochs = stop_after_epochs
        self.val_metrics: dict[str, float] = {}
        self.last_loss: float | None = None
        self._started = time.monotonic()
        self._last_progress = 0.0
        self._scalars = open(run_dir / "scalars.jsonl", "a") if write else None  # noqa: SIM115

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        step = runner.iter + 1
        record: dict[str, Any] = {"step": step}
        for key, value in (outputs or {}).items():
            number = _scalar(value)
            if number is not None:
                record[f"train/{key}"] = number
        loss = record.get("train/loss")
        if loss is not None:
            if not math.isfinite(loss):
                raise NonFiniteLossError(
                    f"the training loss is {loss} at iteration {step}; the run is stopped. "
                    "Lower the learning rate or check the data of this config."
                )
            self.last_loss = loss
        lrs = runner.optim_wrapper.get_lr()
        for name, values in lrs.items():
            record[f"train/{name}"] = float(values[0])
        if self._scalars is not None:
            self._scalars.write(json.dumps(record) + "\n")
            self._scalars.flush()
            now = time.monotonic()
            total = runner.max_iters
            if self.stop_after_epochs is not None:  # a dry run ends after its first epochs
                total = min(total, self.stop_after_epochs * len(runner.train_dataloader))
            if now - self._last_progress > 0.5 or step == total:
                self._last_progress = now
                write_json(
                    self.run_dir / "progress.json",
                    {"iter": step, "max_iters": total, "elapsed": now - self._started},
                )

    def after_train_epoch(self, runner) -> None:
        if self.stop_after_epochs is not None and runner.epoch + 1 >= self.stop_after_epochs:
            runner.train_loop.stop_training = True  # a dry run: validation still runs

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        numbers = {k: _scalar(v) for k, v in (metrics or {}).items()}
        self.val_metrics = {k: v for k, v in numbers.items() if v is not None}
        if self._scalars is not None and self.val_metrics:
            record = {"step": runner.iter, **{f"val/{k}": v for k, v in self.val_metrics.items()}}
            self._scalars.write(json.dumps(record) + "\n")
            self._scalars.flush()

    def close(self) -> None:
        if self._scalars is not None:
            self._scalars.close()


def build_runner(cfg: Config, work_dir: Path, launcher: str):
    """labcore's runner (its defaults and fixes) when available, else MMEngine's."""
    try:
        from labcore.engine.training import build_runner as labcore_build_runner
    except ImportError:
        from mmengine.runner import Runner

        cfg.work_dir = str(work_dir)
        cfg.launcher = launcher
        return Runner.from_cfg(cfg)
    return labcore_build_runner(cfg, work_dir=str(work_dir), launcher=launcher)


def model_complexity(
    model: torch.nn.Module, input_size: tuple[int, int]
) -> dict[str, float | None]:
    """Parameters and FLOPs of one forward pass at ``input_size`` (H, W), batch 1.

    Uses ``labcore.models.analysis.complexity`` when present, else torch's FLOP counter
    on the model's ``tensor`` mode. FLOPs are ``None`` for a model that cannot run on a
    bare image tensor.
    """
    params = float(sum(p.numel() for p in model.parameters()))
    try:
        from labcore.models.analysis import complexity
    except ImportError:
        complexity = None
    try:
        if complexity is not None:
            info = complexity(model, (3, *input_size))
            return {"params": float(info.get("params", params)), "flops": float(info["flops"])}
        from torch.utils.flop_counter import FlopCounterMode

        device = next(model.parameters()).device
        counter = FlopCounterMode(display=False)
        model.eval()
        with torch.no_grad(), counter:
            model(torch.zeros((1, 3, *input_size), device=device), mode="tensor")
        # torch counts a multiply-add as 2 FLOPs; papers (and MMEngine) count it as 1.
        return {"params": params, "flops": counter.get_total_flops() / 2}
    except Exception:  # a detector needs data samples: no FLOPs rather than no result
        return {"params": params, "flops": None}


def peak_memory_mb() -> float:
    """Peak accelerator memory when training ran on CUDA, else peak resident memory."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(run_dir: Path) -> int:
    """Train and evaluate the run in ``run_dir``; returns the process exit status."""
    spec = json.loads((run_dir / "run.json").read_text())
    threads = int(spec.get("threads") or os.environ.get("OMP_NUM_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    rank = int(os.environ.get("RANK", "0"))
    hook = None
    try:
        cfg = Config.fromfile(str(run_dir / "config.py"))
        cfg.mlflow = False  # the sweep logs to MLflow from the run folder
        runner = build_runner(cfg, run_dir / "work", spec["launcher"])
        rank = get_rank()
        hook = BenchmarkRecordHook(
            run_dir, write=rank == 0, stop_after_epochs=spec.get("stop_after_epochs")
        )
        runner.register_hook(hook)
        start = time.monotonic()
        runner.train()
        train_time = time.monotonic() - start
        metrics = hook.val_metrics or {
            k: v for k, v in ((k, _scalar(v)) for k, v in runner.val().items()) if v is not None
        }
        if rank != 0:
            return 0
        runner.save_checkpoint(
            str(run_dir), "checkpoint.pth", save_optimizer=False, save_param_scheduler=False
        )
        model = getattr(runner.model, "module", runner.model)
        result = {
            "status": "finished",
            "metrics": metrics,
            "metric": metrics.get(spec["metric_key"]),
            "final_loss": hook.last_loss,
            "train_time_s": train_time,
            "peak_memory_mb": peak_memory_mb(),
            "iterations": runner.iter,
            "checkpoint": str(run_dir / "checkpoint.pth"),
            **model_complexity(model, tuple(spec["input_size"])),
        }
        if spec["metric_key"] not in metrics:
            result["status"] = "failed"
            result["error"] = (
                f"the evaluator reported {sorted(metrics)}, not the protocol's metric "
                f"{spec['metric_key']!r}; the config's evaluator must compute it."
            )
        write_json(run_dir / "result.json", result)
        return 0 if result["status"] == "finished" else 1
    except NonFiniteLossError as err:
        if spec.get("mode") != "dry-run":
            return _record_failure(err, rank, run_dir)
        # A dry run trains from untrained weights (no pretrained backbone is loaded), where
        # a deep network with frozen normalisation can diverge in two steps: the config
        # built and stepped, which is what a dry run checks; the loss is reported.
        if rank == 0:
            write_json(
                run_dir / "result.json",
                {"status": "finished", "metrics": {}, "metric": None, "warning": str(err)},
            )
        return 0
    except BaseException as err:  # recorded, then the sweep goes on with the next run
        return _record_failure(err, rank, run_dir)
    finally:
        if hook is not None:
            hook.close()


def _record_failure(err: BaseException, rank: int, run_dir: Path) -> int:
    """Write ``err`` with its traceback as the run's failed result; exit status 1."""
    if rank == 0:
        write_json(
            run_dir / "result.json",
            {
                "status": "failed",
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(),
            },
        )
    traceback.print_exc()
    return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m labbench.worker RUN_DIR", file=sys.stderr)
        return 2
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
