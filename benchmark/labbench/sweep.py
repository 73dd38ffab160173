"""Running a plan: every missing run, with progress, failures recorded, resumable.

Each run lives in its own :class:`~labbench.runfolder.RunFolder`, named by the run's
hash. A run whose result says ``finished`` is never trained again unless ``rerun=True``
(which starts it from scratch); a failed or interrupted run is started again and resumes
from its last checkpoint. A run that raises, stops on a NaN, or dies (killed, out of
memory) is recorded as failed with its traceback or the tail of its log, and the sweep
goes on.

The sweep holds each run's lock while it runs it, so two sweeps on one work dir never
train the same run twice: the second waits for the first and takes its result.

The parts: :class:`~labbench.scheduler.Scheduler` (which runs may start, upstream first),
the executor (:mod:`labbench.executor`: local processes, torchrun, Slurm jobs),
:class:`~labbench.localzoo.LocalZoo` (publishing finished configs for the runs that start
from them), :class:`~labbench.progress.ProgressReporter` (the terminal) and the tracker
(:mod:`labbench.tracking`): after each run the sweep logs it to MLflow from its folder.
When the tracking server cannot be reached the sweep stops trying, finishes training,
and keeps the unlogged runs on disk for ``labbench --sync``.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from mmengine.config import Config

from labbench.executor import Executor
from labbench.localzoo import LocalZoo
from labbench.plan import Plan, Refusal, estimate_seconds
from labbench.progress import ProgressReporter, format_seconds
from labbench.resolve import RunSpec
from labbench.runfolder import RunFolder, RunLockedError
from labbench.scheduler import GroupKey, Scheduler, group_key
from labbench.tracking import Tracker
from labcore.environment import environment_info

__all__ = ["Outcome", "Sweep", "SweepReport", "format_seconds"]


@dataclass
class Outcome:
    """What became of one run: ``finished``, ``cached`` (finished earlier) or ``failed``."""

    spec: RunSpec
    run_dir: Path
    status: str
    error: str = ""
    metric: float | None = None


@dataclass
class SweepReport:
    outcomes: list[Outcome] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    unsynced: list[Path] = field(default_factory=list)
    tracking_error: str | None = None
    interrupted: bool = False

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        """130 interrupted, 1 when a run failed or a config was refused, 3 when runs are
        kept locally for ``--sync``, else 0."""
        if self.interrupted:
            return 130
        if self.failures or self.refused:
            return 1
        return 3 if self.unsynced else 0


@dataclass
class Active:
    """A run going on: its handle from the executor and the lock this sweep holds."""

    spec: RunSpec
    folder: RunFolder
    handle: Any
    lock: IO[str]
    started: float


def run_record(spec: RunSpec, executor: Executor) -> dict[str, Any]:
    """``run.json`` of ``spec``: what the worker, the tracker and the leaderboard read."""
    entry, protocol = spec.entry, spec.protocol
    return {
        "config_name": entry.name,
        "codebase": entry.codebase,
        "config": entry.config,
        "protocol": protocol.name,
        "protocol_version": protocol.version,
        "seed": spec.seed,
        "run_hash": spec.run_hash,
        "mode": spec.mode,
        "metric_key": protocol.metric.key,
        "metric_name": protocol.metric.name,
        "greater_is_better": protocol.metric.greater_is_better,
        "input_size": list(protocol.input_size),
        "launcher": executor.launcher,
        # Deterministic protocols train on one CPU thread: float sums then add up in the
        # same order on every machine, whatever --workers splits the cores into.
        "threads": 1 if protocol.deterministic else executor.threads,
        "stop_after_epochs": protocol.stop_after_epochs,
        "checkpoint_interval": protocol.checkpoint_every(),
        "paper_title": entry.paper_title,
        "paper_url": entry.paper_url,
        "expected": entry.expected,
        "environment": environment_info(),
    }


class Sweep:
    """Runs the missing runs of a plan with ``executor``, ``workers`` at a time (all ready
    runs at once for a batch executor such as Slurm), and logs them to ``tracker`` (None:
    no MLflow, as for dry runs)."""

    def __init__(
        self,
        work_dir: Path,
        *,
        executor: Executor,
        tracker: Tracker | None,
        workers: int = 1,
        rerun: bool = False,
        out: TextIO | None = None,
        poll_s: float = 0.5,
        progress_every_s: float = 10.0,
        local_zoo: Path | None = None,
    ):
        self.work_dir = Path(work_dir)
        self.executor = executor
        self.tracker = tracker
        self.workers = (1 << 30) if executor.batches else max(1, workers)
        self.rerun = rerun
        self.poll_s = poll_s
        self.progress = ProgressReporter(out or sys.stdout, every_s=progress_every_s)
        self.report = SweepReport()
        self.zoo = LocalZoo(local_zoo, self.say) if local_zoo is not None else None
        self._observed: dict[str, list[float]] = defaultdict(list)
        if self.zoo is not None:
            self.executor.extra_env["OPENLAB_ZOO_MANIFESTS"] = self.zoo.manifests

    def say(self, message: str = "") -> None:
        self.progress.say(message)

    def folder(self, spec: RunSpec) -> RunFolder:
        return RunFolder(spec.run_dir(self.work_dir))

    # -- plan -----------------------------------------------------------------------

    def is_finished(self, spec: RunSpec) -> bool:
        return self.folder(spec).is_finished()

    def estimate(self, spec: RunSpec) -> float:
        observed = self._observed.get(spec.protocol.name)
        if observed:
            return sum(observed) / len(observed)
        return estimate_seconds(spec, self.work_dir)

    def print_plan(self, plan: Plan, to_run: list[RunSpec]) -> None:
        groups: dict[tuple[str, str], list[RunSpec]] = defaultdict(list)
        for spec in plan.runs:
            groups[(spec.protocol.label, spec.entry.name)].append(spec)
        self.say(f"Benchmark plan ({len(plan.runs)} runs, work dir {self.work_dir}):")
        waiting = {id(s) for s in to_run}
        for (protocol, name), specs in sorted(groups.items()):
            todo = [s for s in specs if id(s) in waiting]
            seeds = ",".join(str(s.seed) for s in specs)
            resumes = sum(self.folder(s).last_checkpoint() is not None for s in todo)
            state = f"{len(todo)} to run, {len(specs) - len(todo)} done"
            if resumes and not self.rerun:
                state += f" ({resumes} resume from a checkpoint)"
            self.say(f"  {protocol:24s} {name:40s} seeds {seeds:10s} {state}")
        for refusal in plan.refused:
            self.say(f"  {refusal.protocol:24s} {refusal.config_name:40s} REFUSED")
        for protocol, names in sorted(plan.left_out.items()):
            self.say(
                f"  {protocol:24s} left out of the default sweep: {', '.join(sorted(names))} "
                "(run them with `labbench --all`, or one with `--only NAME`)"
            )
        for note in plan.notes:
            self.say(f"  note: {note}")
        for warning in plan.warnings:
            self.say(f"  warning: {warning}")
        if self.executor.batches:
            self.say(
                f"To run: {len(to_run)} of {len(plan.runs)} runs as {self.executor.name} jobs "
                f"(ready runs in one job array)."
            )
            return
        total = sum(self.estimate(s) for s in to_run) / self.workers
        self.say(
            f"To run: {len(to_run)} of {len(plan.runs)} runs with {self.workers} worker(s) of "
            f"{self.executor.threads} thread(s); estimated {format_seconds(total)}."
        )

    # -- one run --------------------------------------------------------------------

    def prepare(self, spec: RunSpec) -> RunFolder:
        """The run's folder with the resolved config and the run's facts. An unfinished
        run keeps its last checkpoint (it resumes); ``rerun`` starts it from scratch."""
        folder = self.folder(spec)
        if self.rerun:
            folder.reset()
        folder.prepare(Config(spec.cfg).pretty_text, spec.cfg, run_record(spec, self.executor))
        return folder

    def finish(self, spec: RunSpec, folder: RunFolder, exit_status: int, wall: float) -> Outcome:
        """Record how a worker ended; a worker that died without a result is a failure."""
        result = folder.result()
        if result is None:
            result = {
                "status": "failed",
                "error": f"the worker exited with status {exit_status} without a result "
                "(killed, out of memory, or crashed); see the log tail. Run the sweep "
                "again to resume it from its last checkpoint",
                "traceback": folder.log_tail(),
            }
        result["wall_time_s"] = wall
        result["exit_status"] = exit_status
        folder.write_result(result)
        self._observed[spec.protocol.name].append(wall)
        if result.get("warning"):
            self.say(f"  warning: {spec.key}: {result['warning']}")
        return Outcome(
            spec, folder.path, result["status"], result.get("error", ""), result.get("metric")
        )

    def log(self, folder: RunFolder | Path) -> None:
        """Send one run folder to MLflow; on the first failure stop trying and keep the
        rest locally."""
        folder = RunFolder(folder)
        if self.tracker is None:
            return
        if self.report.tracking_error is not None:
            self.report.unsynced.append(folder.path)
            return
        try:
            self.tracker.log_run(folder, replace=self.rerun)
        except Exception as err:  # server down, network, permissions: keep it local
            self.report.tracking_error = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            self.report.unsynced.append(folder.path)
            self.say(
                f"\nMLflow at {self.tracker.uri} cannot be reached "
                f"({self.report.tracking_error}); training goes on and results are kept in "
                f"{self.work_dir} for `labbench --sync`."
            )

    def cached(self, spec: RunSpec) -> Outcome:
        """A run that finished earlier (here or in another sweep): logged if it was not."""
        folder = self.folder(spec)
        result = folder.result() or {}
        outcome = Outcome(spec, folder.path, "cached", "", result.get("metric"))
        self.report.outcomes.append(outcome)
        logged = folder.logged()
        if self.tracker is not None and (
            not logged or logged.get("tracking_uri") != self.tracker.uri
        ):
            self.log(folder)
        return outcome

    def skip(self, spec: RunSpec, reason: str) -> Outcome:
        """Record ``spec`` as failed without training it."""
        folder = self.prepare(spec)
        folder.write_result({"status": "failed", "error": reason})
        outcome = Outcome(spec, folder.path, "failed", reason)
        self.report.outcomes.append(outcome)
        return outcome

    # -- the sweep ------------------------------------------------------------------

    def run(self, plan: Plan) -> SweepReport:
        """Run what is missing from ``plan``; the report lists outcomes and failures."""
        self.report.refused = list(plan.refused)
        to_run = [s for s in plan.runs if self.rerun or not self.is_finished(s)]
        self.print_plan(plan, to_run)
        scheduler = Scheduler(plan.runs)
        waiting = {id(s) for s in to_run}
        active: dict[Path, Active] = {}
        done, total = 0, len(to_run)
        held_elsewhere: dict[Path, str] = {}
        try:
            while scheduler.unfinished or active:
                starting: list[tuple[RunSpec, RunFolder, IO[str]]] = []
                for spec in scheduler.take(max(0, self.workers - len(active))):
                    if id(spec) not in waiting:
                        self.cached(spec)
                        self._ended(scheduler, spec)
                        continue
                    blocked = self.zoo.upstream_error(spec.upstream) if self.zoo else ""
                    if blocked:
                        outcome = self.skip(spec, blocked)
                        done += 1
                        self.say_outcome(outcome, done, total)
                        self.log(self.folder(spec))
                        self._ended(scheduler, spec)
                        continue
                    folder = self.folder(spec)
                    try:
                        lock = folder.acquire()
                    except RunLockedError as err:
                        if folder.path not in held_elsewhere:
                            held_elsewhere[folder.path] = str(err)
                            self.say(f"  {spec.key}: {err}")
                        scheduler.put_back(spec)
                        continue
                    held_elsewhere.pop(folder.path, None)
                    if not self.rerun and folder.is_finished():  # another sweep trained it
                        folder.release(lock)
                        waiting.discard(id(spec))
                        self.cached(spec)
                        done += 1
                        self._ended(scheduler, spec)
                        continue
                    handle = self.executor.attach(folder)
                    if handle is not None:  # a job of an earlier sweep still runs it
                        self.say(f"  {spec.key}: following job {folder.job()['job_id']}")
                        active[folder.path] = Active(spec, folder, handle, lock, time.monotonic())
                        continue
                    starting.append((spec, self.prepare(spec), lock))
                handles = self.executor.start_all([f.path for _, f, _ in starting])
                for (spec, folder, lock), handle in zip(starting, handles):
                    active[folder.path] = Active(spec, folder, handle, lock, time.monotonic())
                for path, run in list(active.items()):
                    status = self.executor.poll(run.handle)
                    if status is None:
                        continue
                    del active[path]
                    outcome = self.finish(
                        run.spec, run.folder, status, time.monotonic() - run.started
                    )
                    self.report.outcomes.append(outcome)
                    done += 1
                    self.say_outcome(outcome, done, total)
                    self.log(run.folder)
                    run.folder.release(run.lock)
                    self._ended(scheduler, run.spec)
                self.show_progress(done, total, scheduler, active)
                if active or held_elsewhere:
                    time.sleep(self.poll_s)
        except KeyboardInterrupt:
            self.report.interrupted = True
            if self.executor.batches:
                self.say(
                    f"\nInterrupted: {len(active)} job(s) keep running on the cluster. Run the "
                    "same command again to follow them and collect their results "
                    "(`labbench --status` shows where they are)."
                )
            else:
                for run in active.values():
                    run.handle.terminate()
                for run in active.values():
                    run.handle.wait()
                self.say(
                    f"\nInterrupted: {total - done} run(s) unfinished. Run the same command "
                    "again to train only what is missing; interrupted runs resume from their "
                    "last checkpoint."
                )
        finally:
            for run in active.values():
                run.folder.release(run.lock)
            self.executor.close()
            self.progress.close()
        self.log_aggregates(plan)
        if self.zoo is not None and not self.report.interrupted:
            self.publish_all(scheduler)
        return self.report

    def _ended(self, scheduler: Scheduler, spec: RunSpec) -> None:
        """Count a run as ended; when it was its group's last, publish the group if
        others start from it, then let those go."""
        key = scheduler.ended(spec)
        if key is None:
            return
        if self.zoo is not None and key in scheduler.needed_upstream():
            specs = scheduler.groups[key]
            if self._group_state(specs) == "done":
                per_seed = key in scheduler.needed_per_seed()
                self.zoo.publish(key, [self.folder(s) for s in specs], per_seed=per_seed)
            else:
                self.zoo.refuse(key, "one of its runs failed")
        scheduler.release(key)

    # -- the local zoo --------------------------------------------------------------

    def _group_state(self, specs: list[RunSpec]) -> str:
        """'done' when every run finished, 'failed' when one failed, else 'running'."""
        outcomes = {o.run_dir: o.status for o in self.report.outcomes}
        states = [outcomes.get(s.run_dir(self.work_dir)) for s in specs]
        if any(state == "failed" for state in states):
            return "failed"
        return "done" if all(state in ("finished", "cached") for state in states) else "running"

    def publish_all(self, scheduler: Scheduler) -> None:
        """At the end of the sweep: every config whose seeds all finished goes to the local
        zoo, where ``zoo://NAME`` finds it (``OPENLAB_ZOO_MANIFESTS``)."""
        for key, specs in scheduler.groups.items():
            if key not in self.zoo.published and self._group_state(specs) == "done":
                self.zoo.publish(key, [self.folder(s) for s in specs])
        self.zoo.write_page()

    # -- reporting ------------------------------------------------------------------

    def say_outcome(self, outcome: Outcome, done: int, total: int) -> None:
        metric = outcome.spec.protocol.metric.name
        if outcome.status == "finished":
            detail = f"{metric}={outcome.metric:.4f}" if outcome.metric is not None else ""
        else:
            detail = f"FAILED: {outcome.error.splitlines()[0] if outcome.error else ''}"
        self.say(f"[{done}/{total}] {outcome.spec.key} {detail}")

    def show_progress(
        self, done: int, total: int, scheduler: Scheduler, active: dict[Path, Active]
    ) -> None:
        now = time.monotonic()
        parts, remaining = [], sum(self.estimate(s) for s in scheduler.waiting())
        for run in active.values():
            progress = run.folder.progress()
            try:
                it, max_iters = int(progress["iter"]), int(progress["max_iters"])
                left = progress["elapsed"] / max(it, 1) * (max_iters - it)
                state = "evaluating" if it == max_iters else f"iter {it}/{max_iters}"
                parts.append(f"{run.spec.key} {state}")
            except (TypeError, ValueError, KeyError):
                left = max(0.0, self.estimate(run.spec) - (now - run.started))
                parts.append(f"{run.spec.key} starting")
            remaining += left
        self.progress.status(done, total, parts, remaining / min(self.workers, max(1, len(active))))

    def log_aggregates(self, plan: Plan) -> None:
        """Update each config's parent run with the statistics over its logged seeds."""
        if self.tracker is None or self.report.tracking_error is not None:
            return
        groups: dict[GroupKey, list[RunFolder]] = defaultdict(list)
        for spec in plan.runs:
            groups[group_key(spec)].append(self.folder(spec))
        try:
            for folders in groups.values():
                self.tracker.log_aggregate(folders)
        except Exception as err:
            self.report.tracking_error = f"{type(err).__name__}: {err}".splitlines()[0][:300]

    def summary(self) -> None:
        """Print the outcome of the sweep: counts, failures with their logs, unsynced runs."""
        report = self.report
        counts: dict[str, int] = defaultdict(int)
        for outcome in report.outcomes:
            counts[outcome.status] += 1
        self.say(
            f"\nSweep done: {counts['finished']} trained, {counts['cached']} already done, "
            f"{counts['failed']} failed, {len(report.refused)} refused."
        )
        for outcome in report.failures:
            first = outcome.error.splitlines()[0] if outcome.error else ""
            self.say(f"  FAILED {outcome.spec.key}: {first}")
            self.say(f"         traceback and log: {outcome.run_dir}/result.json, log.txt")
        for refusal in report.refused:
            self.say(f"  REFUSED {refusal.protocol}/{refusal.config_name}:")
            for line in refusal.error.splitlines():
                self.say(f"         {line}")
        if report.unsynced:
            self.say(
                f"{len(report.unsynced)} run(s) were not logged to MLflow "
                f"({report.tracking_error}). They are kept in {self.work_dir}/runs; send them "
                f"when the server is back with:\n  labbench --sync --work-dir {self.work_dir}"
            )


def run_states(
    plan: Plan, work_dir: Path, executor: Executor | None = None
) -> list[dict[str, str]]:
    """``labbench --status``: per run of ``plan``, its state from its folder (``new``,
    ``queued``, ``running``, ``interrupted``, ``finished``, ``failed``) and, for a
    cluster job, the scheduler's state of it."""
    rows = []
    for spec in plan.runs:
        folder = RunFolder(spec.run_dir(work_dir))
        state, job = folder.state(), folder.job() or {}
        scheduler_state = ""
        if job and executor is not None and state not in ("finished", "failed"):
            handle = executor.attach(folder)
            scheduler_state = handle.scheduler_state() if handle is not None else "ENDED"
            if scheduler_state == "PENDING":
                state = "queued"
            elif scheduler_state in ("RUNNING", "COMPLETING", "CONFIGURING"):
                state = "running"
        progress = folder.progress() or {}
        where = f"iter {progress['iter']}/{progress['max_iters']}" if progress else ""
        rows.append(
            {
                "run": spec.key,
                "state": state,
                "job": str(job.get("job_id", "")),
                "slurm": scheduler_state,
                "progress": where,
                "folder": str(folder.path),
            }
        )
    return rows
