"""Renaming a state dict's keys by a table of rules: the one loop every converter of
another library's checkpoints runs (labcore's classifiers, labdet's detectors, labseg's
segmentors, labpose's pose models).

A rule is ``(pattern, replacement)``: the first rule whose regular expression matches the
*whole* key (:func:`re.fullmatch`) renames it, with ``replacement`` either a template
(``r"backbone.\\1"``; ``r"\\g<0>"`` keeps the key) or a function of the match. A key no
rule matches is an error that names it, so a checkpoint of another architecture never
loads half-converted.

    rules = [(r"body\\.(.+)", r"backbone.\\1"), (r"fc\\.(weight|bias)", r"head.fc.\\1")]
    rename_keys(state_dict, rules, source="torchvision ResNet", supported="Only ResNets convert.")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from torch import Tensor

from labcore.errors import CheckpointError

Rule = tuple[str, str | Callable[[re.Match], str]]

_SHOWN = 10  # unknown keys named in the error; the rest are counted


def rename_key(key: str, rules: list[Rule]) -> str | None:
    """``key`` renamed by the first rule that matches it whole, or None when none does."""
    for pattern, replacement in rules:
        match = re.fullmatch(pattern, key)
        if match is not None:
            return replacement(match) if callable(replacement) else match.expand(replacement)
    return None


def rename_keys(
    state_dict: Mapping[str, Tensor],
    rules: list[Rule],
    *,
    source: str,
    supported: str,
    into: str = "OpenLab",
    drop: str | None = None,
) -> dict[str, Tensor]:
    """``state_dict`` with every key renamed by ``rules``; values are not changed.

    Args:
        source: what the state dict comes from, for the error ("MMSegmentation").
        supported: the error's last sentence: what does convert, or how to choose another
            converter.
        into: whose names the keys get, for the error ("labseg").
        drop: keys matching this pattern whole are left out (e.g. ``r".*num_batches_tracked"``
            where the target's norm layers keep no counter).

    Raises:
        CheckpointError: naming the keys that no rule maps.
    """
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in state_dict.items():
        if drop is not None and re.fullmatch(drop, key):
            continue
        new_key = rename_key(key, rules)
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = value
    if unknown:
        shown = ", ".join(unknown[:_SHOWN])
        if len(unknown) > _SHOWN:
            shown += f" and {len(unknown) - _SHOWN} more"
        raise CheckpointError(
            f"{len(unknown)} keys of the {source} state dict have no {into} name: {shown}. "
            f"{supported}"
        )
    return converted
