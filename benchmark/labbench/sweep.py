"""Running a plan: every missing run, a few at a time, with progress, failures recorded.

Each run lives in its own folder (see :meth:`RunSpec.run_dir`), named by the run's hash.
A run whose ``result.json`` says ``finished`` is never trained again unless
``rerun=True``; a failed or interrupted run is tried again. A run that raises, stops on
a NaN, or dies (killed, out of memory) is recorded as failed with its traceback or the
tail of its log, and the sweep goes on.

After each run the sweep logs it to MLflow from its folder. When the tracking server
cannot be reached the sweep stops trying, finishes training, and keeps the unlogged
runs on disk for ``labbench --sync``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mmengine.config import Config

from labbench.envinfo import environment_info
from labbench.executor import Executor
from labbench.plan import Plan, Refusal, estimate_seconds
from labbench.resolve import RunSpec
from labbench.tracking import LOGGED_MARKER, Tracker
from labbench.worker import write_json
from labcore.zoo.settings import zoo_manifests_with


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


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def read_result(run_dir: Path) -> dict | None:
    path = run_dir / "result.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Sweep:
    """Runs the missing runs of a plan with ``executor``, ``workers`` at a time, and logs
    them to ``tracker`` (None: no MLflow, as for dry runs)."""

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
        self.local_zoo = Path(local_zoo) if local_zoo is not None else None
        self.executor = executor
        self.tracker = tracker
        self.workers = max(1, workers)
        self.rerun = rerun
        self.out = out or sys.stdout
        self.poll_s = poll_s
        self.progress_every_s = progress_every_s
        self.report = SweepReport()
        self._observed: dict[str, list[float]] = defaultdict(list)
        self._last_progress = 0.0
        # (protocol, config) -> None once published to the local zoo, else why it is not
        self._published: dict[tuple[str, str], str | None] = {}
        if self.local_zoo is not None:
            self.executor.extra_env["OPENLAB_ZOO_MANIFESTS"] = zoo_manifests_with(self.local_zoo)

    def say(self, message: str = "") -> None:
        print(message, file=self.out, flush=True)

    # -- plan -----------------------------------------------------------------------

    def is_finished(self, spec: RunSpec) -> bool:
        result = read_result(spec.run_dir(self.work_dir))
        return bool(result) and result.get("status") == "finished"

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
            state = f"{len(todo)} to run, {len(specs) - len(todo)} done"
            self.say(f"  {protocol:24s} {name:40s} seeds {seeds:10s} {state}")
        for refusal in plan.refused:
            self.say(f"  {refusal.protocol:24s} {refusal.config_name:40s} REFUSED")
        for note in plan.notes:
            self.say(f"  note: {note}")
        for warning in plan.warnings:
            self.say(f"  warning: {warning}")
        total = sum(self.estimate(s) for s in to_run) / self.workers
        self.say(
            f"To run: {len(to_run)} of {len(plan.runs)} runs with {self.workers} worker(s) of "
            f"{self.executor.threads} thread(s); estimated {format_seconds(total)}."
        )

    # -- one run --------------------------------------------------------------------

    def prepare(self, spec: RunSpec) -> Path:
        """A fresh run folder holding the resolved config and the run's facts."""
        run_dir = spec.run_dir(self.work_dir)
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        Config(spec.cfg).dump(str(run_dir / "config.py"))
        (run_dir / "config.json").write_text(json.dumps(spec.cfg, indent=1, default=repr))
        entry, protocol = spec.entry, spec.protocol
        record = {
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
            "launcher": self.executor.launcher,
            # Deterministic protocols train on one CPU thread: float sums then add up in
            # the same order on every machine, whatever --workers splits the cores into.
            "threads": 1 if protocol.deterministic else self.executor.threads,
            "stop_after_epochs": protocol.stop_after_epochs,
            "paper_title": entry.paper_title,
            "paper_url": entry.paper_url,
            "expected": entry.expected,
            "environment": environment_info(),
        }
        write_json(run_dir / "run.json", record)
        return run_dir

    def finish(self, spec: RunSpec, run_dir: Path, exit_status: int, wall: float) -> Outcome:
        """Record how a worker ended; a worker that died without a result is a failure."""
        result = read_result(run_dir)
        if result is None:
            log = run_dir / "log.txt"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            result = {
                "status": "failed",
                "error": f"the worker exited with status {exit_status} without a result "
                "(killed, out of memory, or crashed); see the log tail",
                "traceback": tail,
            }
        result["wall_time_s"] = wall
        result["exit_status"] = exit_status
        write_json(run_dir / "result.json", result)
        self._observed[spec.protocol.name].append(wall)
        if result.get("warning"):
            self.say(f"  warning: {spec.key}: {result['warning']}")
        return Outcome(
            spec, run_dir, result["status"], result.get("error", ""), result.get("metric")
        )

    def log(self, run_dir: Path) -> None:
        """Send one run folder to MLflow; on the first failure stop trying and keep the
        rest locally."""
        if self.tracker is None:
            return
        if self.report.tracking_error is not None:
            self.report.unsynced.append(run_dir)
            return
        try:
            self.tracker.log_run(run_dir, replace=self.rerun)
        except Exception as err:  # server down, network, permissions: keep it local
            self.report.tracking_error = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            self.report.unsynced.append(run_dir)
            self.say(
                f"\nMLflow at {self.tracker.uri} cannot be reached "
                f"({self.report.tracking_error}); training goes on and results are kept in "
                f"{self.work_dir} for `labbench --sync`."
            )

    # -- the sweep ------------------------------------------------------------------

    def run(self, plan: Plan) -> SweepReport:
        """Run what is missing from ``plan``; the report lists outcomes and failures."""
        self.report.refused = list(plan.refused)
        to_run = [s for s in plan.runs if self.rerun or not self.is_finished(s)]
        self.print_plan(plan, to_run)
        waiting = {id(s) for s in to_run}
        for spec in plan.runs:
            if id(spec) not in waiting:
                run_dir = spec.run_dir(self.work_dir)
                result = read_result(run_dir) or {}
                self.report.outcomes.append(
                    Outcome(spec, run_dir, "cached", "", result.get("metric"))
                )
                if not (run_dir / LOGGED_MARKER).exists():
                    self.log(run_dir)
        pending = deque(to_run)
        active: dict[Path, tuple[RunSpec, object, float]] = {}
        done, total = 0, len(to_run)
        try:
            while pending or active:
                self.publish_upstream(plan)
                while len(active) < self.workers:
                    spec = self.next_ready(pending)
                    if spec is None:
                        break
                    blocked = self.upstream_error(spec)
                    if blocked:
                        outcome = self.skip(spec, blocked)
                        done += 1
                        self.say_outcome(outcome, done, total)
                        self.log(outcome.run_dir)
                        continue
                    run_dir = self.prepare(spec)
                    active[run_dir] = (spec, self.executor.start(run_dir), time.monotonic())
                if pending and not active and self.next_ready(pending) is None:
                    for spec in list(pending):  # cannot happen with a plan from build_plan
                        pending.remove(spec)
                        self.skip(spec, "the runs it starts from are not part of this sweep")
                        done += 1
                for run_dir, (spec, process, started) in list(active.items()):
                    status = self.executor.poll(process)
                    if status is None:
                        continue
                    del active[run_dir]
                    outcome = self.finish(spec, run_dir, status, time.monotonic() - started)
                    self.report.outcomes.append(outcome)
                    done += 1
                    self.say_outcome(outcome, done, total)
                    self.log(run_dir)
                self.show_progress(done, total, pending, active)
                if active:
                    time.sleep(self.poll_s)
        except KeyboardInterrupt:
            for _spec, process, _started in active.values():
                process.terminate()
            for _spec, process, _started in active.values():
                process.wait()
            self.report.interrupted = True
            self.say(
                f"\nInterrupted: {total - done} run(s) unfinished. Run the same command again "
                "to train only what is missing."
            )
        self.log_aggregates(plan)
        if self.local_zoo is not None and not self.report.interrupted:
            self.publish_all(plan)
        return self.report

    # -- the local zoo --------------------------------------------------------------

    def _groups(self, plan: Plan) -> dict[tuple[str, str], list[RunSpec]]:
        groups: dict[tuple[str, str], list[RunSpec]] = defaultdict(list)
        for spec in plan.runs:
            groups[(spec.protocol.name, spec.entry.name)].append(spec)
        return groups

    def _group_state(self, specs: list[RunSpec]) -> str:
        """'done' when every run finished, 'failed' when one failed, else 'running'."""
        outcomes = {o.run_dir: o.status for o in self.report.outcomes}
        states = [outcomes.get(s.run_dir(self.work_dir)) for s in specs]
        if any(state == "failed" for state in states):
            return "failed"
        return "done" if all(state in ("finished", "cached") for state in states) else "running"

    def publish_group(self, key: tuple[str, str], specs: list[RunSpec]) -> None:
        """Publish one config's finished seeds to the local zoo (the representative seed,
        with the mean and std over all of them)."""
        from labbench.publish import publish

        try:
            publish(
                [s.run_dir(self.work_dir) for s in specs],
                self.local_zoo,
                manifest_dir=self.local_zoo,
            )
        except Exception as err:  # recorded: the runs that need it fail with this reason
            self._published[key] = f"publishing it failed ({type(err).__name__}: {err})"
            self.say(f"  {key[1]}: {self._published[key]}")
            return
        self._published[key] = None
        self.say(f"  published {key[1]} ({key[0]}) to the local zoo {self.local_zoo}")

    def publish_upstream(self, plan: Plan) -> None:
        """Publish every config that other runs start from, once all its seeds are done."""
        needed = {key for spec in plan.runs for key in spec.upstream}
        for key, specs in self._groups(plan).items():
            if key not in needed or key in self._published:
                continue
            state = self._group_state(specs)
            if state == "done":
                self.publish_group(key, specs)
            elif state == "failed":
                self._published[key] = "one of its runs failed"

    def publish_all(self, plan: Plan) -> None:
        """At the end of the sweep: every config whose seeds all finished goes to the local
        zoo, where ``zoo://NAME`` finds it (``OPENLAB_ZOO_MANIFESTS``)."""
        published = 0
        for key, specs in self._groups(plan).items():
            if key not in self._published and self._group_state(specs) == "done":
                self.publish_group(key, specs)
            published += self._published.get(key, "") is None
        if published:
            from labcore.zoo.docs import render
            from labcore.zoo.manifest import all_entries

            page = self.local_zoo / "model_zoo.md"
            page.write_text(render(all_entries([self.local_zoo])))
            self.say(
                f"Local zoo: {published} model(s) in {self.local_zoo} (table: {page}); use "
                f"them anywhere with\n"
                f"  OPENLAB_ZOO_MANIFESTS={zoo_manifests_with(self.local_zoo)} lab zoo list"
            )

    def next_ready(self, pending: deque) -> RunSpec | None:
        """The first pending run whose upstream weights are published (or can never be);
        None when every pending run still waits."""
        for spec in list(pending):
            if all(key in self._published for key in spec.upstream):
                pending.remove(spec)
                return spec
        return None

    def upstream_error(self, spec: RunSpec) -> str:
        """Why ``spec`` cannot start ('' when its upstream weights are published)."""
        reasons = [
            f"zoo://{name} ({protocol}) was not published: {self._published[(protocol, name)]}"
            for protocol, name in spec.upstream
            if self._published.get((protocol, name))
        ]
        return "; ".join(reasons)

    def skip(self, spec: RunSpec, reason: str) -> Outcome:
        """Record ``spec`` as failed without training it."""
        run_dir = self.prepare(spec)
        write_json(run_dir / "result.json", {"status": "failed", "error": reason})
        outcome = Outcome(spec, run_dir, "failed", reason)
        self.report.outcomes.append(outcome)
        return outcome

    def say_outcome(self, outcome: Outcome, done: int, total: int) -> None:
        if self._last_progress and self._is_tty():
            self.out.write("\r\033[K")
        metric = outcome.spec.protocol.metric.name
        if outcome.status == "finished":
            detail = f"{metric}={outcome.metric:.4f}" if outcome.metric is not None else ""
        else:
            detail = f"FAILED: {outcome.error.splitlines()[0] if outcome.error else ''}"
        self.say(f"[{done}/{total}] {outcome.spec.key} {detail}")

    def _is_tty(self) -> bool:
        return hasattr(self.out, "isatty") and self.out.isatty()

    def show_progress(self, done: int, total: int, pending: deque, active: dict) -> None:
        now = time.monotonic()
        interval = 0.5 if self._is_tty() else self.progress_every_s
        if not active or now - self._last_progress < interval:
            return
        self._last_progress = now
        parts, remaining = [], sum(self.estimate(s) for s in pending)
        for run_dir, (spec, _process, started) in active.items():
            elapsed = now - started
            try:
                progress = json.loads((run_dir / "progress.json").read_text())
                it, max_iters = int(progress["iter"]), int(progress["max_iters"])
                per_iter = progress["elapsed"] / max(it, 1)
                left = per_iter * (max_iters - it)
                state = "evaluating" if it == max_iters else f"iter {it}/{max_iters}"
                parts.append(f"{spec.key} {state}")
            except (OSError, ValueError, KeyError):
                left = max(0.0, self.estimate(spec) - elapsed)
                parts.append(f"{spec.key} starting")
            remaining += left
        eta = format_seconds(remaining / self.workers)
        line = f"[{done}/{total} done] {' | '.join(parts)} | ETA {eta}"
        if self._is_tty():
            self.out.write("\r\033[K" + line[:200])
            self.out.flush()
        else:
            self.say(line)

    def log_aggregates(self, plan: Plan) -> None:
        """Update each config's parent run with the statistics over its logged seeds."""
        if self.tracker is None or self.report.tracking_error is not None:
            return
        try:
            for specs in self._groups(plan).values():
                self.tracker.log_aggregate([s.run_dir(self.work_dir) for s in specs])
        except Exception as err:
            self.report.tracking_error = f"{type(err).__name__}: {err}".splitlines()[0][:300]

    def summary(self) -> None:
        """Print the outcome of the sweep: counts, failures with their logs, unsynced runs."""
        report = self.report
        counts = defaultdict(int)
        for outcome in report.outcomes:
            counts[outcome.status] += 1
        self.say(
            f"\nSweep done: {counts['finished']} trained, {counts['cached']} already done, "
            f"{counts['failed']} failed, {len(report.refused)} refused."
        )
        for outcome in report.failures:
            self.say(
                f"  FAILED {outcome.spec.key}: {outcome.error.splitlines()[0] if outcome.error else ''}"
            )
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
