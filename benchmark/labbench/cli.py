"""The ``labbench`` command: benchmark every registered config under its protocols.

labbench                       the default sweep: the tiny protocols' default configs
labbench --all                 every registered config of the tiny protocols
labbench --list                registered configs and their protocols
labbench --status              where each run is: queued, running, finished, failed
labbench --executor slurm ...  the runs as Slurm jobs (see docs/cluster.md)
labbench --dry-run             every protocol, full ones too: build + dry_run.iters iterations
labbench --report              the leaderboard from what MLflow holds
labbench --report --readme README.md   and the README's results section from it
labbench --sync                send runs an unreachable MLflow server missed
labbench --publish DEST        after the sweep, publish the weights to the model zoo

Every sweep publishes its finished configs to a local zoo, <work dir>/zoo, where configs
that start from them (init_cfg checkpoint='zoo://NAME') find them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from labbench.discovery import registered_configs
from labbench.executor import EXECUTORS, ClusterOptions, make_executor
from labbench.leaderboard import records_from_mlflow, records_from_work_dir, write_leaderboard
from labbench.plan import build_plan
from labbench.protocol import Protocol, load_all_protocols
from labbench.readme import update_readme
from labbench.sweep import Sweep, run_states
from labbench.tracking import Tracker, sync, tracking_uri
from labcore.errors import ConfigError, LabError, close_matches

DEFAULT_WORK_DIR = Path("work_dirs/benchmark")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labbench",
        description=__doc__.splitlines()[0],
        epilog="\n".join(__doc__.splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--protocol", action="append", help="only this protocol (repeatable)")
    parser.add_argument(
        "--only", metavar="PATTERN", help="configs whose name matches (glob or substring)"
    )
    parser.add_argument("--seeds", help="comma-separated seeds instead of the protocol's, e.g. 0,1")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="runs in parallel, CPU threads split between them (default: 1 with a GPU, "
        "else one per CPU core up to 8)",
    )
    parser.add_argument(
        "--devices", type=int, default=1, help="devices per run; more than 1 runs torchrun"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build every config of every protocol and train dry_run.iters steps on synthetic data",
    )
    parser.add_argument(
        "--rerun", action="store_true", help="train again runs that already finished"
    )
    parser.add_argument(
        "--report", action="store_true", help="write the leaderboard from MLflow and exit"
    )
    parser.add_argument(
        "--readme",
        type=Path,
        metavar="FILE",
        help="with --report: rewrite the results section of FILE (between its "
        "<!-- labbench:results:start/end --> lines) from the leaderboard",
    )
    parser.add_argument(
        "--list", action="store_true", help="list registered configs with their protocols"
    )
    parser.add_argument(
        "--sync", action="store_true", help="log to MLflow the runs it has not received"
    )
    parser.add_argument(
        "--publish", metavar="DEST", help="publish finished runs to the model zoo at DEST"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK_DIR, help=f"default {DEFAULT_WORK_DIR}"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="every registered config, not only the metafiles' DefaultSweep ones",
    )
    parser.add_argument(
        "--status",
        action="store_true",
        help="print each run's state (queued, running, finished, failed) and exit",
    )
    cluster = parser.add_argument_group("executors (--executor slurm: Slurm jobs through submitit)")
    cluster.add_argument("--executor", choices=EXECUTORS, default="local", help="default local")
    cluster.add_argument(
        "--process-per-run",
        action="store_true",
        help="local executor: a new process for every run (default: each worker process "
        "runs one run after another, paying the start-up once)",
    )
    cluster.add_argument(
        "--cluster", type=Path, metavar="FILE.yaml", help="Slurm options as YAML keys"
    )
    cluster.add_argument("--partition")
    cluster.add_argument("--gpus-per-node", type=int)
    cluster.add_argument("--nodes", type=int)
    cluster.add_argument("--time", metavar="HH:MM", help="a job's time limit; longer runs requeue")
    cluster.add_argument("--array-parallelism", type=int, help="jobs of the array running at once")
    cluster.add_argument("--account")
    cluster.add_argument("--qos")
    cluster.add_argument("--constraint")
    cluster.add_argument("--cpus-per-task", type=int)
    return parser  # fmt: skip


def default_workers() -> int:
    """One run at a time with a GPU; without, one run per core (tiny runs use one thread)."""
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, min(8, os.cpu_count() or 1))


def _selected(args, protocols: dict[str, Protocol], *, default: list[str]) -> list[str]:
    for name in args.protocol or []:
        if name not in protocols:
            matches = close_matches(name, protocols)
            hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
            raise ConfigError(
                f"unknown protocol {name!r}.{hint} Known: {', '.join(sorted(protocols))}."
            )
    return list(args.protocol or default)


def _seeds(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise ConfigError(
            f"--seeds {text!r} is not a comma-separated list of integers, e.g. 0,1,2"
        ) from err


CLUSTER_KEYS = (
    "partition", "gpus_per_node", "nodes", "time", "array_parallelism", "account", "qos",
    "constraint", "cpus_per_task",
)  # fmt: skip


def cluster_options(args) -> ClusterOptions:
    """Slurm options from ``--cluster FILE.yaml`` with the command line's on top."""
    given = {key: getattr(args, key) for key in CLUSTER_KEYS}
    if args.cluster is not None:
        return ClusterOptions.from_yaml(args.cluster, **given)
    return ClusterOptions(**{k: v for k, v in given.items() if v is not None})


def _executor(args, work_dir: Path, workers: int):
    kind = args.executor
    if kind == "local" and (args.cluster is not None or args.partition):
        raise ConfigError("--cluster and --partition are Slurm options; add --executor slurm.")
    options = cluster_options(args) if kind == "slurm" else None
    return make_executor(
        devices=args.devices,
        workers=workers,
        kind=kind,
        work_dir=work_dir,
        options=options,
        reuse_processes=not args.process_per_run,
    )


def _tracker(work_dir: Path) -> Tracker:
    return Tracker(tracking_uri(work_dir), artifact_root=work_dir / "mlartifacts")


def list_configs(protocols: dict[str, Protocol]) -> int:
    entries = registered_configs()
    for name, protocol in sorted(protocols.items()):
        kind = "tiny, default sweep" if protocol.tiny else "full"
        print(f"{protocol.label} [{kind}] task={protocol.task} seeds={list(protocol.seeds)}")
        print(f"  {protocol.description.splitlines()[0] if protocol.description else ''}")
        members = [e for e in entries if name in e.protocols]
        for entry in members:
            mark = " (baseline)" if entry.name == protocol.baseline else ""
            print(f"    {entry.name:44s} {entry.config}{mark}")
        if not members:
            print("    (no registered configs)")
    unknown = sorted({p for e in entries for p in e.protocols} - set(protocols))
    for name in unknown:
        print(
            f"unknown protocol {name!r} named by: {', '.join(e.name for e in entries if name in e.protocols)}"
        )
    return 0


def report(work_dir: Path, protocols: dict[str, Protocol], readme: Path | None = None) -> int:
    tracker = _tracker(work_dir)
    try:
        records = records_from_mlflow(tracker, protocols)
    except Exception as err:  # server down or unreadable store
        raise LabError(
            f"cannot read MLflow at {tracker.uri} ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}); start the server or point "
            "MLFLOW_TRACKING_URI at it."
        ) from err
    if records.empty:
        print(f"MLflow at {tracker.uri} holds no benchmark runs; run `labbench` first.")
        return 1
    paths = write_leaderboard(records, protocols, work_dir / "leaderboard")
    print(paths["md"].read_text())
    print("Leaderboard written: " + ", ".join(str(p) for p in paths.values()))
    if readme is not None:
        update_readme(readme, records, protocols)
        print(f"Results section of {readme} written from it.")
    return 0


def run_sweep(args, protocols: dict[str, Protocol]) -> int:
    mode = "dry-run" if args.dry_run else "train"
    default = (
        sorted(protocols) if args.dry_run else sorted(n for n, p in protocols.items() if p.tiny)
    )
    selected = _selected(args, protocols, default=default)
    plan = build_plan(
        registered_configs(),
        protocols,
        selected=selected,
        mode=mode,
        seeds=_seeds(args.seeds),
        devices=args.devices,
        only=args.only,
        everything=args.all,
    )
    if args.status:
        return print_status(plan, args)
    if not plan.runs and not plan.refused:
        print(f"No registered configs under {', '.join(selected)}; see `labbench --list`.")
        return 1
    work_dir = args.work_dir.resolve()
    tracker = None if args.dry_run else _tracker(work_dir)
    if tracker is not None:
        print(f"MLflow: {tracker.uri}")
    workers = args.workers or default_workers()
    sweep = Sweep(
        work_dir,
        executor=_executor(args, work_dir, workers),
        tracker=tracker,
        workers=workers,
        rerun=args.rerun or args.dry_run,
        local_zoo=None if args.dry_run else work_dir / "zoo",
    )
    result = sweep.run(plan)
    sweep.summary()
    if args.dry_run or result.interrupted:
        return result.exit_code
    records = None
    if result.tracking_error is None:
        try:
            records = records_from_mlflow(tracker, {n: protocols[n] for n in selected})
        except Exception as err:  # the server went away after the last run was logged
            print(f"MLflow cannot be read ({type(err).__name__}); leaderboard from {work_dir}.")
    if records is None:
        records = records_from_work_dir(work_dir)
    if not records.empty:
        paths = write_leaderboard(
            records, {n: protocols[n] for n in selected}, work_dir / "leaderboard"
        )
        print(f"Leaderboard: {paths['md']} (also .csv, .tex, .html)")
    if args.publish:
        from labbench.publish import publish

        finished = [o.run_dir for o in result.outcomes if o.status in ("finished", "cached")]
        entries = publish(finished, args.publish)
        print(f"Published {len(entries)} model(s) to {args.publish}.")
    return result.exit_code


def print_status(plan, args) -> int:
    """``labbench --status``: one line per run of the plan with its state, from the run
    folders and (Slurm) the scheduler."""
    work_dir = args.work_dir.resolve()
    executor = _executor(args, work_dir, 1) if args.executor == "slurm" else None
    rows = run_states(plan, work_dir, executor)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
        job = f" job {row['job']} {row['slurm']}".rstrip() if row["job"] else ""
        print(f"{row['state']:12s} {row['run']:60s} {row['progress']:16s}{job}")
    print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no runs")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the workers as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return _dispatch(args)
    except LabError as err:
        print(f"labbench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labbench: interrupted", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args) -> int:
    protocols = load_all_protocols()
    if args.list:
        return list_configs(protocols)
    if args.sync:
        tracker = _tracker(args.work_dir.resolve())
        try:
            logged, present = sync(args.work_dir.resolve(), tracker)
        except LabError:
            raise
        except Exception as err:  # still unreachable: nothing is lost, try again later
            raise LabError(
                f"MLflow at {tracker.uri} still cannot be reached ({type(err).__name__}); the "
                f"runs stay in {args.work_dir}. Run `labbench --sync` again when it is up."
            ) from err
        print(f"Synced {len(logged)} run(s) to {tracker.uri}; {len(present)} were already there.")
        return 0
    if args.readme is not None and not args.report:
        raise LabError("--readme rewrites a README from the leaderboard: give --report with it.")
    if args.report:
        return report(args.work_dir.resolve(), protocols, readme=args.readme)
    return run_sweep(args, protocols)


if __name__ == "__main__":
    sys.exit(main())
