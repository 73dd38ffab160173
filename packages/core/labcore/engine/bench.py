"""How close training through the engine comes to a bare torch loop (``nox -s bench-engine``).

For each config, three fresh processes are started one after the other, in one run:

* ``import``: python that only imports torch (the start-up everything pays);
* ``bare``: a torch loop written here: the config's dataset (the same files, decoding
  and augmentation) in a plain DataLoader with the config's batch size and collate
  function, the model's data preprocessor and loss, and the config's optimizer class and
  arguments on ``model.parameters()``; no runner, hooks, schedulers, logging or MLflow;
* ``lab``: what ``lab train`` runs: :func:`labcore.engine.training.build_runner` with the
  config's default hooks, logging and MLflow tracking (a sqlite store in a new work dir)
  and ``runner.train()``.

Each process reports when its first iteration started and when each iteration ended.
Printed per config: steady-state iterations per second (iterations after the first
``--warmup``, validation excluded), ``lab`` against ``bare`` as a ratio (goal >= 0.95),
and the time from process start to the first iteration, also beyond importing torch
(goal <= 3 s). Times on a loaded machine are inflated; the ratios of one run hold better.

    python -m labcore.engine.bench [--iters 80] [--warmup 10] [--config NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_CONFIGS = (
    "labcls::resnet/resnet18_tiny_shapes.py",
    "labdet::retinanet/retinanet_r18_fpn_shapes.py",
)
#: overrides that keep the benchmark short and offline: no validation inside the timed
#: iterations, no pretrained weights to fetch
COMMON_OPTIONS = {"+model.backbone.init_cfg": None}

CHILD = """
import time
started = time.time()
import torch
torch_imported = time.time()
from labcore.engine.bench import child_main
child_main({args!r}, started=started, torch_imported=torch_imported)
"""


def train_options(config: str, iters: int) -> dict[str, Any]:
    """``--cfg-options`` for ``config``: ``iters`` training iterations (whole epochs for
    an epoch-based loop) without validation and without pretrained weights to fetch."""
    from labcore.engine.config import load_config

    cfg = load_config(config, dict(COMMON_OPTIONS))
    loop = cfg.train_cfg.get("type")
    if cfg.train_cfg.get("by_epoch", loop == "EpochBasedTrainLoop"):
        epochs = -(-iters // len(_build_loader(cfg)))
        train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs + 1)
    else:
        train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=iters + 1)
    if loop is not None:  # MMEngine takes either the loop's type or by_epoch
        train_cfg.pop("by_epoch")
    return {**COMMON_OPTIONS, "train_cfg": train_cfg}


def _build_loader(cfg):
    """The config's train DataLoader, built in the config's scope as the runner does."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    DefaultScope.get_instance(f"bench-{time.monotonic_ns()}", scope_name=cfg.default_scope)
    return Runner.build_dataloader(cfg.train_dataloader, seed=0)


def _run_lab(cfg, work_dir: Path, record) -> None:
    from mmengine.hooks import Hook

    from labcore.engine.training import build_runner

    class Timing(Hook):
        priority = "LOWEST"

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            record.before_iter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            record.after_iter()

    runner = build_runner(cfg, work_dir=work_dir)
    runner.register_hook(Timing())
    runner.train()


def _run_bare(cfg, iters: int, record) -> None:
    import torch
    from mmengine.registry import MODELS

    torch.manual_seed(0)
    loader = _build_loader(cfg)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    optimizer_cfg = dict(cfg.optim_wrapper.optimizer)
    optimizer = getattr(torch.optim, optimizer_cfg.pop("type"))(model.parameters(), **optimizer_cfg)
    done = 0
    while done < iters:
        for batch in loader:
            record.before_iter()
            data = model.data_preprocessor(batch, True)
            losses = model(**data, mode="loss")
            loss = sum(v.mean() if v.dim() else v for k, v in losses.items() if "loss" in k)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            record.after_iter()
            done += 1
            if done == iters:
                break


class _Record:
    """Wall-clock and CPU times (this process's) of the iterations."""

    def __init__(self) -> None:
        self.first_iter: float | None = None
        self.first_iter_cpu: float | None = None
        self.ends: list[float] = []
        self.cpu_ends: list[float] = []

    def before_iter(self) -> None:
        if self.first_iter is None:
            self.first_iter, self.first_iter_cpu = time.time(), time.process_time()

    def after_iter(self) -> None:
        self.ends.append(time.time())
        self.cpu_ends.append(time.process_time())


def child_main(args: dict[str, Any], *, started: float, torch_imported: float) -> None:
    """One measured process (see the module docstring); writes its times to args['out']."""
    record = _Record()
    if args["mode"] != "import":
        from labcore.engine.config import load_config

        cfg = load_config(args["config"], args["options"])
        if args["mode"] == "lab":
            _run_lab(cfg, Path(args["work_dir"]), record)
        else:
            _run_bare(cfg, args["iters"], record)
    result = {
        "started": started,
        "torch_import_s": torch_imported - started,
        "first_iter": record.first_iter,
        "first_iter_cpu": record.first_iter_cpu,
        "ends": record.ends,
        "cpu_ends": record.cpu_ends,
    }
    Path(args["out"]).write_text(json.dumps(result))


def measure(mode: str, config: str, iters: int, folder: Path, options=None) -> dict[str, Any]:
    """Start one measured process; its times, with ``launched`` (when it was started)."""
    out = folder / f"{mode}-{abs(hash(config))}.json"
    args = {"mode": mode, "config": config, "iters": iters, "out": str(out), "options": options}
    args["work_dir"] = str(folder / f"work-{mode}-{abs(hash(config))}")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    launched = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(args=args)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        error = done.stderr[done.stderr.rfind("Traceback") :]
        raise RuntimeError(f"bench {mode} {config} failed:\n{error[-4000:]}")
    result = json.loads(out.read_text())
    result["launched"] = launched
    return result


def iteration_times(result: dict[str, Any], warmup: int, clock: str) -> dict[str, float]:
    """Seconds per iteration after ``warmup`` iterations on ``clock`` ('wall' or 'cpu'):
    the median (an epoch's end or a rare slow step are outliers of it) and the mean
    (everything included)."""
    ends = result["ends" if clock == "wall" else "cpu_ends"][warmup:]
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    return {"median": statistics.median(gaps), "mean": (ends[-1] - ends[0]) / len(gaps)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-engine", description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", help="config names (default: two tiny ones)")
    parser.add_argument("--iters", type=int, default=80, help="training iterations per process")
    parser.add_argument("--warmup", type=int, default=10, help="iterations left out of the rate")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    configs = args.config or list(DEFAULT_CONFIGS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bench-engine: {os.cpu_count()} CPUs, load average {load:.2f}, {args.iters} "
        f"iterations, {args.threads} thread(s)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        folder = Path(tmp)
        torch_s = measure("import", "", 0, folder)["torch_import_s"]
        print(f"importing torch: {torch_s:.2f} s")
        for config in configs:
            options = train_options(config, args.iters)
            runs = {
                mode: measure(mode, config, args.iters, folder, options) for mode in ("bare", "lab")
            }
            print(f"\n{config}")
            times = {}
            for mode, result in runs.items():
                wall = iteration_times(result, args.warmup, "wall")
                cpu = iteration_times(result, args.warmup, "cpu")
                first = result["first_iter"] - result["launched"]
                times[mode] = (wall, cpu, first)
                print(
                    f"  {mode:4s} wall {wall['median'] * 1e3:7.1f} ms/it median, {wall['mean'] * 1e3:7.1f} "
                    f"mean; cpu {cpu['median'] * 1e3:7.1f} ms/it median, {cpu['mean'] * 1e3:7.1f} mean; "
                    f"first iteration after {first:5.2f} s ({first - torch_s:5.2f} s beyond torch, "
                    f"{result['first_iter_cpu']:5.2f} s cpu)"
                )
            (bare_wall, bare_cpu, _), (lab_wall, lab_cpu, lab_first) = times["bare"], times["lab"]
            print(
                f"  lab/bare throughput: cpu {bare_cpu['median'] / lab_cpu['median']:.3f}x median, "
                f"{bare_cpu['mean'] / lab_cpu['mean']:.3f}x mean; wall "
                f"{bare_wall['median'] / lab_wall['median']:.3f}x median, "
                f"{bare_wall['mean'] / lab_wall['mean']:.3f}x mean (goal >= 0.95)"
            )
            print(f"  lab: first iteration {lab_first - torch_s:.2f} s beyond torch (goal <= 3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
