"""Measured metrics of a zoo model next to the ones its entry records.

``lab test CONFIG zoo://NAME`` evaluates NAME's weights and then compares:

- an imported entry: each metric the upstream published (:mod:`labcore.zoo.metric_names`
  maps its name to the OpenLab key and states its scale; the measured fraction is
  converted to the published scale, e.g. x100 for percentages, before the difference);
- an OpenLab-trained entry: each recorded metric's mean over the protocol's seeds (same
  key, same scale), with its std and the published seed's value.

Published metrics without an OpenLab counterpart, and counterparts the config's test
evaluator did not report, are listed with the reason instead of a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from labcore.zoo.manifest import ImportedEntry, ZooEntry
from labcore.zoo.metric_names import counterpart, scale_mismatch


@dataclass(frozen=True)
class MetricComparison:
    """One recorded metric of a zoo entry and what ``lab test`` measured for it.

    Attributes:
        name: the metric as the entry names it (the upstream's name for imported entries).
        key: the OpenLab metric key measured for it; None when there is no counterpart.
        recorded: the entry's value on its own scale (imported: as published; trained: the
            mean over seeds).
        unit: the unit of ``recorded``, ``measured`` and ``difference`` ('%', 'fraction',
            or '' for an upstream metric of unknown unit).
        scale: ``recorded``'s scale over OpenLab's fractions (100 for percentages).
        measured_value: the value ``lab test`` reported under ``key`` (OpenLab's scale).
        measured: ``measured_value`` x ``scale``, on the scale of ``recorded``.
        difference: ``measured - recorded``.
        std: the std over seeds (trained entries).
        published_seed: the published seed's own value (trained entries).
        note: why there is no measured value, when there is none.
    """

    name: str
    key: str | None
    recorded: float
    unit: str
    scale: float
    measured_value: float | None = None
    measured: float | None = None
    difference: float | None = None
    std: float | None = None
    published_seed: float | None = None
    note: str = ""


@dataclass(frozen=True)
class ZooComparison:
    """The comparison of one zoo entry: the config it was published with, where its numbers
    come from, and one row per recorded metric."""

    name: str
    kind: str
    config: str
    source: str
    dataset: str
    link: str | None
    rows: list[MetricComparison] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def compare(entry: ImportedEntry | ZooEntry, measured: Mapping[str, float]) -> ZooComparison:
    """Compare ``measured`` (``{OpenLab key: value}``, as ``lab test`` reports them) with
    the metrics ``entry`` records."""
    if isinstance(entry, ImportedEntry):
        rows = [_imported_row(name, value, measured) for name, value in entry.metrics.items()]
        source = f"{entry.source.project} {entry.source.version} ({entry.source.weights})"
        return ZooComparison(
            entry.name, "imported", entry.config, source, entry.dataset, entry.metrics_link, rows
        )
    rows = [
        replace(
            _row(name, name, summary.mean, 1.0, "fraction", measured),
            std=summary.std,
            published_seed=summary.published,
        )
        for name, summary in entry.metrics.items()
    ]
    seeds = ", ".join(str(s) for s in entry.seeds)
    source = f"OpenLab, mean over seeds {seeds}"
    if entry.mlflow_run_id:
        source += f" (MLflow run {entry.mlflow_run_id})"
    dataset = f"protocol {entry.protocol.name} v{entry.protocol.version}"
    return ZooComparison(entry.name, "trained", entry.config, source, dataset, None, rows)


def _imported_row(name: str, value: float, measured: Mapping[str, float]) -> MetricComparison:
    found = counterpart(name)
    if found.key is None:
        return MetricComparison(
            name,
            None,
            float(value),
            found.unit,
            found.scale,
            note=f"no counterpart: {found.reason}",
        )
    row = _row(name, found.key, value, found.scale, found.unit, measured)
    mismatch = scale_mismatch(float(value), found)
    if mismatch:  # the table's scale may not be the upstream's for this entry: say so
        note = f"check the unit: {mismatch} (labcore.zoo.metric_names says {found.unit!r})"
        row = replace(row, note=f"{row.note}; {note}" if row.note else note)
    return row


def _row(
    name: str, key: str, value: float, scale: float, unit: str, measured: Mapping[str, float]
) -> MetricComparison:
    reported = measured.get(key)
    if not isinstance(reported, int | float) or isinstance(reported, bool):
        return MetricComparison(
            name,
            key,
            float(value),
            unit,
            scale,
            note=f"not measured: the config's test_evaluator reported no '{key}'",
        )
    on_scale = float(reported) * scale
    return MetricComparison(
        name,
        key,
        float(value),
        unit,
        scale,
        measured_value=float(reported),
        measured=on_scale,
        difference=on_scale - float(value),
    )
