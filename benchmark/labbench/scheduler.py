"""Which runs of a plan may start: the upstream order of configs, by graphlib.

A run that starts from the published weights of another config (``zoo://NAME``, see
:mod:`labbench.dependencies`) waits until every run of that config has ended and the
sweep has published it. The unit of that order is the group, one (protocol, config) pair
with its seeds; :class:`graphlib.TopologicalSorter` releases a group once every group it
starts from is done.
"""

from __future__ import annotations

import graphlib
from collections import defaultdict

from labbench.resolve import RunSpec
from labcore.errors import LabError

GroupKey = tuple[str, str]  # (protocol name, config name)


def group_key(spec: RunSpec) -> GroupKey:
    return (spec.protocol.name, spec.entry.name)


class Scheduler:
    """Hands out the runs of ready groups and learns when runs end.

    ``take(n)`` returns up to ``n`` runs whose upstream groups are done; ``ended(spec)``
    records a run's end and returns its group's key once all the group's runs ended;
    ``release(key)`` then lets the groups that start from it go.
    """

    def __init__(self, runs: list[RunSpec]):
        self.groups: dict[GroupKey, list[RunSpec]] = defaultdict(list)
        for spec in runs:
            self.groups[group_key(spec)].append(spec)
        graph = {key: set(specs[0].upstream) for key, specs in self.groups.items()}
        missing = {up for ups in graph.values() for up in ups} - set(graph)
        if missing:  # cannot happen with a plan from build_plan
            names = ", ".join(f"{n} ({p})" for p, n in sorted(missing))
            raise LabError(f"the plan's runs start from configs that are not in it: {names}")
        self._sorter = graphlib.TopologicalSorter(graph)
        try:
            self._sorter.prepare()
        except graphlib.CycleError as err:
            cycle = " -> ".join(name for _, name in err.args[1])
            raise LabError(f"configs start from each other's weights in a cycle: {cycle}") from err
        self._queue: list[RunSpec] = []
        self._taken: set[int] = set()
        self._left = {key: len(specs) for key, specs in self.groups.items()}
        self._release_ready()

    def _release_ready(self) -> None:
        for key in self._sorter.get_ready():
            self._queue.extend(self.groups[key])

    @property
    def unfinished(self) -> bool:
        """Whether runs are still queued or waiting for their upstream groups."""
        return self._sorter.is_active() or bool(self._queue)

    @property
    def queued(self) -> list[RunSpec]:
        """Runs whose upstream groups are done, not handed out yet."""
        return list(self._queue)

    def waiting(self) -> list[RunSpec]:
        """Every run not handed out yet: queued, or waiting for its upstream groups."""
        return [s for specs in self.groups.values() for s in specs if id(s) not in self._taken]

    def take(self, count: int) -> list[RunSpec]:
        """Up to ``count`` queued runs, in plan order."""
        taken, self._queue = self._queue[:count], self._queue[count:]
        self._taken.update(id(spec) for spec in taken)
        return taken

    def put_back(self, spec: RunSpec) -> None:
        """Queue ``spec`` again (another sweep holds it; it is tried again later)."""
        self._taken.discard(id(spec))
        self._queue.append(spec)

    def ended(self, spec: RunSpec) -> GroupKey | None:
        """Record that ``spec`` ended; its group's key when that was the group's last run."""
        key = group_key(spec)
        self._left[key] -= 1
        return key if self._left[key] == 0 else None

    def release(self, key: GroupKey) -> None:
        """The group ``key`` is done (and published when others start from it)."""
        self._sorter.done(key)
        self._release_ready()

    def needed_upstream(self) -> set[GroupKey]:
        """The groups that other groups start from (published when done)."""
        return {key for specs in self.groups.values() for key in specs[0].upstream}

    def needed_per_seed(self) -> set[GroupKey]:
        """The groups that groups under a ``upstream_weights: per-seed`` protocol start
        from (each of their seeds is published too)."""
        return {
            key
            for specs in self.groups.values()
            if specs[0].protocol.upstream_weights == "per-seed"
            for key in specs[0].upstream
        }
