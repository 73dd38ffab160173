"""The sweep plan: which (config, protocol, seed) runs to make, and how long they take."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

from labbench.dependencies import seed_name, with_upstream, zoo_names
from labbench.discovery import ConfigEntry, default_sweep
from labbench.protocol import Protocol
from labbench.resolve import RunSpec, data_root, resolve_run
from labcore.errors import LabError, close_matches


@dataclass(frozen=True)
class Refusal:
    """A config that cannot run under a protocol (conflict, unknown protocol, no data)."""

    config_name: str
    protocol: str
    error: str


@dataclass
class Plan:
    """Resolved runs, and the (config, protocol) pairs that were refused."""

    runs: list[RunSpec] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # protocol label -> configs registered under it that the default sweep leaves out
    left_out: dict[str, list[str]] = field(default_factory=dict)


def matches(entry: ConfigEntry, pattern: str | None) -> bool:
    """``--only``: a glob on the model name or config path, or a plain substring."""
    if not pattern:
        return True
    names = (entry.name, entry.config)
    if any(c in pattern for c in "*?["):
        return any(fnmatch.fnmatch(name, pattern) for name in names)
    return any(pattern in name for name in names)


def build_plan(
    entries: list[ConfigEntry],
    protocols: dict[str, Protocol],
    *,
    selected: list[str],
    mode: str = "train",
    seeds: list[int] | None = None,
    only: str | None = None,
    devices: int | None = None,
    everything: bool = False,
) -> Plan:
    """Resolve every run of every entry registered under a ``selected`` protocol.

    A dry run uses one seed and the protocol's synthetic stand-in data. A config whose
    protocol is unknown, whose data is missing, or which conflicts with its protocol is
    refused (recorded, not raised), so the rest of the sweep goes on; an unknown protocol
    outside the selection is only a warning, except in a dry run of every protocol, which
    checks every metafile.

    A training sweep without ``only`` runs each protocol's default sweep (the metafiles'
    ``DefaultSweep``, see :func:`labbench.discovery.default_sweep`) and lists the rest in
    ``plan.left_out``; ``everything`` (``--all``) runs every registered config.
    """
    plan = Plan()
    roots: dict[str, Path | LabError] = {}
    in_default = {
        name: default_sweep(entries, name, protocol.baseline)
        for name, protocol in protocols.items()
    }
    chosen = everything or bool(only) or mode != "train"
    for entry in entries:
        if not matches(entry, only):
            continue
        for name in entry.protocols:
            if name not in protocols:
                message = (
                    f"{entry.path.parent / 'metafile.yml'} names protocol {name!r}, which does "
                    f"not exist (known: {', '.join(sorted(protocols))})."
                )
                checks_all = mode == "dry-run" and set(selected) >= set(protocols)
                if checks_all or name in selected:
                    plan.refused.append(Refusal(entry.name, name, message))
                else:  # not part of this sweep: say so, but do not fail it
                    plan.warnings.append(f"{entry.name}: {message}")
                continue
            if name not in selected:
                continue
            protocol = protocols[name]
            if not chosen and entry.name not in in_default[name]:
                plan.left_out.setdefault(protocol.label, []).append(entry.name)
                continue
            if name not in roots:
                try:
                    data_protocol = protocol.dry_run_protocol() if mode == "dry-run" else protocol
                    roots[name] = data_root(data_protocol)
                except LabError as err:
                    roots[name] = err
            root = roots[name]
            if isinstance(root, LabError):
                plan.refused.append(Refusal(entry.name, name, str(root)))
                continue
            run_seeds = protocol.seeds[:1] if mode == "dry-run" else protocol.seeds
            if seeds is not None:
                run_seeds = seeds[:1] if mode == "dry-run" else seeds
            try:
                for seed in run_seeds:
                    plan.runs.append(
                        resolve_run(entry, protocol, seed, root, mode=mode, devices=devices)
                    )
            except Exception as err:  # any config error: refuse this config only
                plan.refused.append(Refusal(entry.name, name, f"{type(err).__name__}: {err}"))
    if mode == "train":
        link_upstream(plan, entries, protocols, seeds=seeds, devices=devices, roots=roots)
    return plan


def _producer(name: str, entry: ConfigEntry, downstream: Protocol, protocols) -> str:
    """The protocol under which ``entry`` produces the weights a run under ``downstream``
    starts from: one of its protocols of the same kind (tiny or full)."""
    same_kind = [
        p for p in entry.protocols if p in protocols and protocols[p].tiny == downstream.tiny
    ]
    if not same_kind:
        kind = "tiny" if downstream.tiny else "full"
        raise LabError(
            f"zoo://{name} is the registered config {entry.config}, but it is under no {kind} "
            f"protocol ({', '.join(entry.protocols) or 'none'}) to train it for "
            f"{downstream.label}; register it under one in its metafile.yml."
        )
    return sorted(same_kind)[0]


def link_upstream(
    plan: Plan,
    entries: list[ConfigEntry],
    protocols: dict[str, Protocol],
    *,
    seeds: list[int] | None,
    devices: int | None,
    roots: dict[str, Path | LabError],
) -> None:
    """Make every run that starts from ``zoo://NAME`` of a registered config wait for
    NAME's runs (added to the plan when missing) and chain its hash to theirs (under an
    ``upstream_weights: per-seed`` protocol: to NAME's run of its own seed, whose local
    zoo entry ``NAME.seed<i>`` its config then names); order the plan so that upstream
    runs come first. See :mod:`labbench.dependencies`."""
    by_name = {e.name: e for e in entries}
    manifests: list[dict] = []  # read once, when a config names a zoo model

    def published_models() -> dict:
        """The zoo's published entries by name."""
        if not manifests:
            from labcore.zoo.manifest import all_entries

            manifests.append({e.name: e for e in all_entries()})
        return manifests[0]

    groups: dict[tuple[str, str], list[RunSpec]] = {}
    for spec in plan.runs:
        groups.setdefault((spec.protocol.name, spec.entry.name), []).append(spec)
    linked: dict[tuple[str, str], list[RunSpec]] = {}
    ordered: list[RunSpec] = []

    def resolve_group(key: tuple[str, str]) -> list[RunSpec]:
        protocol_name, name = key
        if protocol_name not in roots:
            roots[protocol_name] = data_root(protocols[protocol_name])
        root = roots[protocol_name]
        if isinstance(root, LabError):
            raise root
        protocol = protocols[protocol_name]
        return [
            resolve_run(by_name[name], protocol, seed, root, devices=devices)
            for seed in (seeds if seeds is not None else protocol.seeds)
        ]

    def link(key: tuple[str, str], chain: tuple[tuple[str, str], ...]) -> list[RunSpec]:
        if key in linked:
            return linked[key]
        if key in chain:
            cycle = " -> ".join(name for _, name in (*chain, key))
            raise LabError(f"configs start from each other's weights in a cycle: {cycle}")
        if key not in groups:
            try:
                groups[key] = resolve_group(key)
            except LabError as err:
                raise LabError(
                    f"{chain[-1][1]} starts from zoo://{key[1]}, which is not published, and "
                    f"training it under {key[0]} is not possible here: {err}"
                ) from err
            downstream = ", ".join(name for _, name in chain[-1:])
            plan.notes.append(f"{key[1]} ({key[0]}) is added: {downstream} starts from its weights")
        specs = groups[key]
        per_seed = specs[0].protocol.upstream_weights == "per-seed"
        upstream, hashes = [], []  # hashes: of what every seed starts from
        seed_hashes: dict[int, list[str]] = {s.seed: [] for s in specs}
        renames: dict[int, dict[str, str]] = {s.seed: {} for s in specs}
        for name in zoo_names(specs[0].cfg):
            entry = published_models().get(name)
            if entry is not None and not (per_seed and name in by_name):
                hashes.append(entry.weights.sha256)  # used as published; new weights: new runs
                if per_seed:
                    plan.notes.append(
                        f"{key[1]} starts every seed from the published zoo://{name} (not a "
                        "registered config): its statistics are over its own seeds only"
                    )
                continue
            if name not in by_name:
                known = sorted({*by_name, *published_models()})
                matches = close_matches(name, known)
                hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
                raise LabError(
                    f"{key[1]} starts from zoo://{name}, which is neither published in the "
                    f"zoo's manifests nor a registered config.{hint}"
                )
            up_key = (_producer(name, by_name[name], specs[0].protocol, protocols), name)
            if per_seed:  # checked first: a refused run makes no upstream runs
                up_seeds = (
                    [s.seed for s in groups[up_key]]
                    if up_key in groups
                    else list(seeds if seeds is not None else protocols[up_key[0]].seeds)
                )
                missing = [s.seed for s in specs if s.seed not in up_seeds]
                if missing:
                    raise LabError(
                        f"{key[1]} ({key[0]}, upstream_weights: per-seed) starts seed i from the "
                        f"run of seed i of zoo://{name}, but {name} runs seeds "
                        f"{sorted(up_seeds)} under {up_key[0]}, not {missing}; give both "
                        "protocols the same seeds (or pass --seeds)."
                    )
            up_specs = link(up_key, (*chain, key))
            upstream.append(up_key)
            if not per_seed:
                hashes += [s.run_hash for s in up_specs]
                continue
            by_seed = {s.seed: s for s in up_specs}
            for spec in specs:
                seed_hashes[spec.seed].append(by_seed[spec.seed].run_hash)
                renames[spec.seed][name] = seed_name(name, spec.seed)
        linked[key] = [
            with_upstream(s, tuple(upstream), hashes + seed_hashes[s.seed], renames[s.seed])
            for s in specs
        ]
        if upstream:
            plan.notes.append(
                f"{key[1]} starts from "
                + ", ".join(f"zoo://{n} ({p})" for p, n in upstream)
                + ", trained and published to the local zoo first"
                + (", each seed from the upstream run of its seed" if per_seed else "")
            )
        ordered.extend(linked[key])
        return linked[key]

    for key in list(groups):
        try:
            link(key, ())
        except LabError as err:
            plan.refused.append(Refusal(key[1], key[0], str(err)))
            groups.pop(key, None)
    plan.runs = [s for s in ordered if (s.protocol.name, s.entry.name) in groups]


def estimate_seconds(spec: RunSpec, work_dir: Path) -> float:
    """Expected duration of a run: the mean of earlier finished runs of the same config
    and protocol in ``work_dir``, else the protocol's ``estimate_s`` hint."""
    folder = spec.run_dir(work_dir).parent
    durations = []
    for result_path in folder.glob("*/result.json"):
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            continue
        if result.get("status") == "finished" and result.get("wall_time_s"):
            durations.append(float(result["wall_time_s"]))
    if durations:
        return sum(durations) / len(durations)
    return spec.protocol.estimate_s
