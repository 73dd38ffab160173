"""Publishing benchmarked weights to the model zoo (``labbench --publish DEST``).

For each config, the seed whose metric is closest to the mean over seeds is published
(the representative run, not the luckiest), with the mean and std over all seeds, through
``labcore.zoo.publish_runs``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from labbench.dependencies import seed_name
from labbench.runfolder import RunFolder
from labbench.stats import summarize_seeds
from labcore.errors import LabError
from labcore.zoo import ZooRun, publish_runs

Member = tuple[dict, dict, RunFolder]  # a finished run's run.json, result.json, folder


def zoo_runs(run_dirs: list[RunFolder | Path], *, per_seed: bool = False) -> list[ZooRun]:
    """One ``labcore.zoo.ZooRun`` per (protocol, config) among the finished ``run_dirs``;
    with ``per_seed`` also one per finished seed, named ``NAME.seed<i>``
    (:func:`labbench.dependencies.seed_name`), which runs under an
    ``upstream_weights: per-seed`` protocol start from."""
    groups: dict[tuple[str, str], list[Member]] = defaultdict(list)
    for run_dir in run_dirs:
        folder = RunFolder(run_dir) if not isinstance(run_dir, RunFolder) else run_dir
        record, result = folder.record(), folder.result() or {}
        if result.get("status") == "finished" and result.get("metric") is not None:
            groups[(record["protocol"], record["config_name"])].append((record, result, folder))
    runs = []
    for (_protocol, name), members in sorted(groups.items()):
        keys = sorted(set.intersection(*(set(r["metrics"]) for _, r, _ in members)))
        means, stds = {}, {}
        for key in keys:
            summary = summarize_seeds([float(r["metrics"][key]) for _, r, _ in members])
            means[key] = summary["mean"]
            stds[key] = summary["std"] if summary["std"] is not None else 0.0
        target = means[members[0][0]["metric_key"]]
        chosen = min(members, key=lambda m: abs(m[1]["metric"] - target))
        seeds = sorted(int(m[0]["seed"]) for m in members)
        runs.append(_zoo_run(name, chosen, keys, means, stds, seeds))
        if per_seed:
            for member in sorted(members, key=lambda m: int(m[0]["seed"])):
                record, result, _ = member
                own = {k: float(result["metrics"][k]) for k in keys}
                zero = dict.fromkeys(keys, 0.0)
                seed = int(record["seed"])
                runs.append(_zoo_run(seed_name(name, seed), member, keys, own, zero, [seed]))
    return runs


def _zoo_run(
    name: str,
    member: Member,
    keys: list[str],
    means: dict[str, float],
    stds: dict[str, float],
    seeds: list[int],
) -> ZooRun:
    """The ``ZooRun`` that publishes ``member``'s weights as ``name``, with the mean and
    std over ``seeds``."""
    record, result, folder = member
    logged = folder.logged() or {}
    return ZooRun(
        name=name,
        codebase=record["codebase"],
        config=record["config"],
        protocol=record["protocol"],
        protocol_version=int(record["protocol_version"]),
        checkpoint=str(folder.weights_file),
        metrics_mean=means,
        metrics_std=stds,
        seed=int(record["seed"]),
        mlflow_run_id=logged.get("run_id"),
        params=int(result["params"]) if result.get("params") else None,
        flops=int(result["flops"]) if result.get("flops") else None,
        seeds=seeds,
        seed_metrics={k: float(result["metrics"][k]) for k in keys},
        git_commit=record.get("environment", {}).get("git_commit"),
    )


def publish(
    run_dirs: list[RunFolder | Path],
    dest: str | Path,
    *,
    manifest_dir: Path | None = None,
    per_seed: bool = False,
) -> list:
    """Publish the finished runs among ``run_dirs`` to ``dest`` (with ``per_seed``, each
    seed too: :func:`zoo_runs`); returns the zoo's entries. The manifests go to
    ``manifest_dir`` (default: the repository's ``model_zoo/``)."""
    runs = zoo_runs(run_dirs, per_seed=per_seed)
    if not runs:
        raise LabError("no finished runs to publish; run the sweep first (labbench).")
    return publish_runs(runs, dest, manifest_dir=manifest_dir)
