"""labcore.models.rename: the rule table every checkpoint converter renames keys with."""

from __future__ import annotations

import pytest
import torch

from labcore.errors import CheckpointError
from labcore.models.rename import rename_key, rename_keys

RULES = [
    (r"body\.(.+)", r"backbone.\1"),
    (r"fc\.(weight|bias)", r"head.fc.\1"),
    (r"block(\d)\.conv", lambda m: f"stages.{int(m[1]) - 1}.conv"),
    (r"head\.scale", r"\g<0>"),
]


def test_the_first_rule_matching_the_whole_key_renames_it():
    assert rename_key("body.layer1.0.conv1.weight", RULES) == "backbone.layer1.0.conv1.weight"
    assert rename_key("block3.conv", RULES) == "stages.2.conv"
    assert rename_key("head.scale", RULES) == "head.scale"
    assert rename_key("fc.weight.extra", RULES) is None  # a prefix match is no match


def test_values_are_kept_and_dropped_keys_left_out():
    state = {
        "body.conv1.weight": torch.ones(2),
        "body.bn1.num_batches_tracked": torch.tensor(3),
        "fc.bias": torch.zeros(4),
    }
    out = rename_keys(state, RULES, source="toy", supported="-", drop=r".*num_batches_tracked")
    assert list(out) == ["backbone.conv1.weight", "head.fc.bias"]
    assert out["head.fc.bias"] is state["fc.bias"]


def test_unmapped_keys_are_named_with_what_converts():
    state = {f"neck.conv{i}.weight": torch.ones(1) for i in range(12)} | {
        "fc.weight": torch.ones(1)
    }
    with pytest.raises(CheckpointError) as err:
        rename_keys(state, RULES, source="MMToy", into="labtoy", supported="Only toys convert.")
    message = str(err.value)
    assert message.startswith("12 keys of the MMToy state dict have no labtoy name: neck.conv0")
    assert "neck.conv9.weight and 2 more. Only toys convert." in message
