"""One benchmark run in its own process, ``python -m labbench.worker RUN_DIR``, or many
one after another in one process, ``python -m labbench.worker --serve`` (see :func:`serve`).

The run folder (:class:`labbench.runfolder.RunFolder`) holds the resolved config and
``run.json`` (seed, mode, metric, input size, launcher), written by the sweep. The worker
trains, evaluates, saves the weights and writes, on rank 0, the run's progress, its
per-iteration scalars and its result (``finished`` with metrics, train time, peak
memory, parameters and FLOPs, or ``failed`` with the traceback).

Every run resumes: a checkpoint is saved every ``checkpoint_interval`` of the protocol
(only the last one is kept, in ``work/``), and a worker started on a folder that holds
one continues from it through labcore's exact resume (model, optimizer, schedulers, data
order and random streams), so a run killed, preempted or timed out ends with the same
weights and metrics as one that was never stopped.

The worker never talks to MLflow: the sweep logs results from the run folder, so a
tracking server that goes away (or a compute node without network) cannot stop or lose
a training run.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import re
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import IO, Any

import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from labbench.protocol import list_protocols, load_protocol
from labbench.runfolder import RunFolder
from labcore.cpu_pins import CpuPins
from labcore.engine.training import build_runner
from labcore.errors import NonFiniteLossError
from labcore.models.analysis import complexity


def _scalar(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, int | float):
        return float(value)
    return None


class BenchmarkRecordHook(Hook):
    """Records progress, per-iteration scalars and evaluation metrics into the run folder
    and (dry runs) stops after ``stop_after_epochs``. A NaN loss is stopped by labcore's
    NonFiniteLossHook, which :func:`labcore.engine.training.build_runner` adds."""

    priority = "VERY_LOW"

    def __init__(self, folder: RunFolder, *, write: bool, stop_after_epochs: int | None = None):
        self.folder = folder
        self.write = write
        self.stop_after_epochs = stop_after_epochs
        self.val_metrics: dict[str, float] = {}
        self.last_loss: float | None = None
        self.resumed_from: int = 0
        self._started = time.monotonic()
        self._last_progress = 0.0
        self._scalars = None

    def before_train(self, runner) -> None:
        # runner.iter is the resumed iteration: the scalars past it are written again
        self.resumed_from = runner.iter
        if self.write:
            self._scalars = self.folder.open_scalars(after_step=runner.iter)

    def _total(self, runner) -> int:
        total = runner.max_iters
        if self.stop_after_epochs is not None:  # a dry run ends after its first epochs
            total = min(total, self.stop_after_epochs * len(runner.train_dataloader))
        return total

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        step = runner.iter + 1
        record: dict[str, Any] = {"step": step}
        for key, value in (outputs or {}).items():
            number = _scalar(value)
            if number is not None:
                record[f"train/{key}"] = number
        if record.get("train/loss") is not None:
            self.last_loss = record["train/loss"]
        for name, values in runner.optim_wrapper.get_lr().items():
            record[f"train/{name}"] = float(values[0])
        if self._scalars is None:
            return
        self._scalars.write(json.dumps(record) + "\n")
        self._scalars.flush()
        now, total = time.monotonic(), self._total(runner)
        if now - self._last_progress > 0.5 or step == total:
            self._last_progress = now
            self.folder.write_progress(step, total, now - self._started)

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


def model_complexity(
    model: torch.nn.Module, input_size: tuple[int, int], *, flops: bool = True
) -> dict[str, float | None]:
    """Parameters and FLOPs (multiply-adds) of one forward pass at ``input_size`` (H, W),
    batch 1, by :func:`labcore.models.analysis.complexity`. FLOPs are ``None`` for a model
    that cannot run on a bare image tensor (a detector needs data samples), and when not
    asked for (``flops=False``: a dry run, where tracing a full-size detector at its
    protocol's input size costs as much as its training step)."""
    params = float(sum(p.numel() for p in model.parameters()))
    if not flops:
        return {"params": params, "flops": None}
    try:
        info = complexity(model, (3, *input_size))
    except Exception:  # no FLOPs rather than no result
        return {"params": params, "flops": None}
    return {"params": float(info.get("params", params)), "flops": float(info["flops"])}


def peak_memory_mb() -> float:
    """Peak accelerator memory when training ran on CUDA, else peak resident memory since
    :func:`reset_peak_memory` (the process's high-water mark, ``VmHWM``)."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    except (OSError, AttributeError):  # not Linux: the process's peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_memory() -> None:
    """Start :func:`peak_memory_mb` afresh, so a run in a process that ran others before
    reports its own peak: CUDA's peak statistics, and Linux's resident high-water mark
    (written ``5`` to ``/proc/self/clear_refs``)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


#: runs started in this process (more than one in a ``--serve`` worker)
_runs_in_this_process = 0


def run(run_dir: Path) -> int:
    """Train and evaluate the run in ``run_dir`` (resuming from its last checkpoint when
    it has one); returns the process exit status."""
    global _runs_in_this_process
    _runs_in_this_process += 1
    folder = RunFolder(run_dir)
    spec = folder.record()
    threads = int(spec.get("threads") or os.environ.get("OMP_NUM_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    reset_peak_memory()
    rank = int(os.environ.get("RANK", "0"))
    hook = None
    try:
        cfg = Config.fromfile(str(folder.config_file))
        cfg.mlflow = False  # the sweep logs to MLflow from the run folder
        runner = build_runner(
            cfg,
            work_dir=str(folder.work_dir),
            resume=True,
            launcher=spec["launcher"],
            cpu_pins=run_cpu_pins(spec),
        )
        rank = get_rank()
        hook = BenchmarkRecordHook(
            folder, write=rank == 0, stop_after_epochs=spec.get("stop_after_epochs")
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
        dry_run = spec.get("mode") == "dry-run"
        if not dry_run:  # a dry run's weights, from a step or two, are worth no disk
            runner.save_checkpoint(
                str(folder.path),
                folder.weights_file.name,
                save_optimizer=False,
                save_param_scheduler=False,
            )
        model = getattr(runner.model, "module", runner.model)
        result = {
            "status": "finished",
            "metrics": metrics,
            "metric": metrics.get(spec["metric_key"]),
            "final_loss": _final_loss(folder, hook),
            "train_time_s": train_time,
            "peak_memory_mb": peak_memory_mb(),
            "iterations": runner.iter,
            "resumed_from_iter": hook.resumed_from,
            "checkpoint": None if dry_run else str(folder.weights_file),
            "cpu": runner.cfg.cpu_provenance,
            "process": {"pid": os.getpid(), "earlier_runs": _runs_in_this_process - 1},
            **model_complexity(model, tuple(spec["input_size"]), flops=not dry_run),
        }
        if spec["metric_key"] not in metrics:
            result["status"] = "failed"
            result["error"] = (
                f"the evaluator reported {sorted(metrics)}, not the protocol's metric "
                f"{spec['metric_key']!r}; the config's evaluator must compute it."
            )
        folder.write_result(result)
        return 0 if result["status"] == "finished" else 1
    except NonFiniteLossError as err:
        if spec.get("mode") != "dry-run":
            return _record_failure(err, rank, folder)
        # A dry run trains from untrained weights (no pretrained backbone is loaded), where
        # a deep network with frozen normalisation can diverge in two steps: the config
        # built and stepped, which is what a dry run checks; the loss is reported.
        if rank == 0:
            folder.write_result(
                {"status": "finished", "metrics": {}, "metric": None, "warning": str(err)}
            )
        return 0
    except BaseException as err:  # recorded, then the sweep goes on with the next run
        return _record_failure(err, rank, folder)
    finally:
        if hook is not None:
            hook.close()


def _final_loss(folder: RunFolder, hook: BenchmarkRecordHook) -> float | None:
    """The last training loss: this process's, or (a run resumed after its last
    iteration) the last one recorded in the folder."""
    if hook.last_loss is not None:
        return hook.last_loss
    losses = [r["train/loss"] for r in folder.scalars() if "train/loss" in r]
    return losses[-1] if losses else None


def _record_failure(err: BaseException, rank: int, folder: RunFolder) -> int:
    """Write ``err`` with its traceback as the run's failed result; exit status 1."""
    if rank == 0:
        folder.write_result(
            {
                "status": "failed",
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(),
            }
        )
    traceback.print_exc()
    return 1


def run_cpu_pins(spec: dict[str, Any]) -> CpuPins | None:
    """The CPU pins of a run: ``cpu_pins`` of its run.json, else its protocol's."""
    if "cpu_pins" in spec:
        return CpuPins.from_spec(spec["cpu_pins"])
    if spec.get("protocol") in list_protocols():
        return load_protocol(spec["protocol"]).cpu_pins
    return None


def serve(commands: IO[str], replies: IO[str]) -> int:
    """Run the runs named on ``commands`` (a run folder per line) one after another in
    this process, writing each one's exit status as a line to ``replies``; returns at the
    end of ``commands``. This is how the local executor pays the start-up (importing torch,
    MMEngine and the codebases: seconds) once per worker rather than once per run.

    Each run's output goes to its folder's ``log.txt``, as in a process of its own, and
    each starts from the state a new process would have where training reads it: MMEngine's
    named instances (loggers, message hubs, visualizers, scopes) made by the run before
    are dropped, the environment and torch's global switches are put back, and the peak
    memory is measured from the run's start. A run whose CPU pins are not in effect in
    this process is refused (status 3): the executor keeps one worker per environment.
    The executor retires a worker after a run that did not finish (a failed run may leave
    state behind).
    """
    for line in commands:
        if not line.strip():
            continue
        run_dir = Path(line.strip())
        folder = RunFolder(run_dir)
        pins = run_cpu_pins(folder.record())
        with _run_output(folder.log_file):
            if pins is not None and not pins.in_effect():
                print(
                    f"labbench.worker --serve: this process was started without the run's "
                    f"CPU pins {pins.variables()}; start its worker with them set.",
                    file=sys.stderr,
                )
                status = 3
            else:
                with _fresh_process_state():
                    status = run(run_dir)
        replies.write(f"{status}\n")
        replies.flush()
    return 0


@contextlib.contextmanager
def _run_output(log_file: Path):
    """Standard output and error (the file descriptors, so C++ output too) into
    ``log_file`` for the duration of a run."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_file, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in zip((1, 2), saved):
            os.dup2(original, fd)
            os.close(original)


@contextlib.contextmanager
def _fresh_process_state():
    """Put back, after a run, what the run changed of the process-wide state training
    reads: os.environ, torch's determinism and cuDNN switches, MMEngine's named
    instances (closing the run's log files); then free the run's memory."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.visualization import Visualizer

    environ = dict(os.environ)
    managers = (MMLogger, MessageHub, Visualizer, DefaultScope)
    before = {cls: dict(cls._instance_dict) for cls in managers}
    switches = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        torch.use_deterministic_algorithms(switches[0], warn_only=switches[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = switches[2:]
        for cls in managers:
            for name in set(cls._instance_dict) - set(before[cls]):
                instance = cls._instance_dict.pop(name)
                for handler in getattr(instance, "handlers", [])[:]:
                    handler.close()
                    instance.removeHandler(handler)
        gc.unfreeze()  # what build_runner froze: the run's objects may be freed now
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        _return_freed_memory()


def _return_freed_memory() -> None:
    """Give the memory freed by a run back to the system (glibc's ``malloc_trim``), so
    an idle worker does not hold a full-size model's peak."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--serve"]:
        # the replies get a descriptor of their own: fd 1 goes to each run's log
        replies = os.fdopen(os.dup(1), "w")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        return serve(sys.stdin, replies)
    if len(args) != 1:
        print("usage: python -m labbench.worker RUN_DIR | --serve", file=sys.stderr)
        return 2
    pins = run_cpu_pins(RunFolder(Path(args[0])).record())
    if pins is not None and not pins.in_effect():  # kernels are chosen when torch loads
        command = [sys.executable, "-m", "labbench.worker", args[0]]
        os.execve(sys.executable, command, pins.environment())
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
