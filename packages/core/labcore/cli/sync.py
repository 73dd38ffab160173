"""Send to MLflow what training runs kept while the tracking server was unreachable.

    lab sync work_dirs/r18                  # the runs of one work dir
    lab sync work_dirs                      # every work dir below
    lab sync work_dirs/r18 --tracking-uri http://mlflow.example.org:5000

A run that could not reach its MLflow server keeps what it logs in an outbox in its
work dir (``.../vis_data/mlflow_outbox``) and sends it itself when the server comes
back while it trains. This command sends what is left after the run ended; it sends
each record once, so running it again is safe. Exit status 2 when a server is still
unreachable (the outboxes stay, for the next try).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labcore.errors import LabError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("work_dir", type=Path, help="a run's work dir, or a folder above several")
    parser.add_argument(
        "--tracking-uri",
        help="send to this MLflow server instead of the one each run was started with",
    )


def run(args: argparse.Namespace) -> int:
    import os

    # a server that is still down should fail this command in seconds, not minutes
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    from labcore.tracking.mlflow_outbox import sync

    if not args.work_dir.is_dir():
        raise LabError(f"work dir {args.work_dir} is not a folder; give the --work-dir of a run.")
    results = sync(args.work_dir, tracking_uri=args.tracking_uri)
    if not results:
        print(f"nothing to send: no MLflow outbox under {args.work_dir}")
        return 0
    failed = []
    for folder, run_info, sent, error in results:
        uri = args.tracking_uri or run_info["tracking_uri"]
        if error is None:
            print(f"sent {sent} records to {uri} (run {run_info['run_id']}) from {folder}")
        else:
            failed.append(f"{folder} -> {uri}: {str(error).strip().splitlines()[0]}")
    if failed:
        listed = "\n  ".join(failed)
        raise LabError(
            f"{len(failed)} outbox(es) could not be sent; the MLflow server is still "
            f"unreachable:\n  {listed}\nRun `lab sync {args.work_dir}` again when it is up, or "
            f"name another server with --tracking-uri."
        )
    return 0
