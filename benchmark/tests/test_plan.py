"""The default sweep: metafiles mark which configs plain ``labbench`` trains; the rest
run with ``--all`` (or ``--only``), and the printed plan says what was left out."""

from __future__ import annotations

import dataclasses
import io

import pytest

from labbench.discovery import default_sweep, read_metafile, registered_configs
from labbench.executor import LocalExecutor
from labbench.plan import build_plan
from labbench.protocol import load_all_protocols
from labbench.sweep import Sweep
from labcore.errors import ConfigError


def marked(**flags: bool | None):
    entries = [e for e in registered_configs() if e.name in ("toy_a", "toy_b", "toy_fail")]
    return [dataclasses.replace(e, default_sweep=flags.get(e.name)) for e in entries]


def test_unmarked_protocols_run_every_config_and_marked_ones_their_default(toy_world):
    protocols = load_all_protocols()
    assert default_sweep(marked(), "toy-tiny", "toy_a") == {"toy_a", "toy_b", "toy_fail"}
    entries = marked(toy_b=True, toy_fail=False)
    assert default_sweep(entries, "toy-tiny", "toy_a") == {"toy_a", "toy_b"}  # + baseline
    plan = build_plan(entries, protocols, selected=["toy-tiny"])
    assert sorted({s.entry.name for s in plan.runs}) == ["toy_a", "toy_b"]
    assert plan.left_out == {"toy-tiny@v3": ["toy_fail"]}
    everything = build_plan(entries, protocols, selected=["toy-tiny"], everything=True)
    assert {s.entry.name for s in everything.runs} == {"toy_a", "toy_b", "toy_fail"}
    assert not everything.left_out
    only = build_plan(entries, protocols, selected=["toy-tiny"], only="toy_fail")
    assert {s.entry.name for s in only.runs} == {"toy_fail"}
    out = io.StringIO()
    Sweep(toy_world.root, executor=LocalExecutor(), tracker=None, out=out).print_plan(plan, [])
    assert (
        "left out of the default sweep: toy_fail (run them with `labbench --all`" in out.getvalue()
    )


def test_default_sweep_must_be_a_boolean(toy_world, tmp_path):
    package = tmp_path / "pkg"
    (package / "configs" / "x").mkdir(parents=True)
    (package / "configs" / "x" / "a.py").write_text("")
    metafile = package / "configs" / "x" / "metafile.yml"
    metafile.write_text(
        "Models:\n  - {Name: a, Config: x/a.py, Protocols: [toy-tiny], DefaultSweep: yes-ish}\n"
    )
    with pytest.raises(ConfigError, match="DefaultSweep: 'yes-ish'; write `DefaultSweep: true`"):
        read_metafile(metafile, "pkg", package)


def test_each_shipped_tiny_protocol_defaults_to_its_baseline_and_at_most_one_other():
    protocols = load_all_protocols()
    entries = registered_configs()
    for name in ("cls-shapes-tiny", "det-shapes-tiny"):
        chosen = default_sweep(entries, name, protocols[name].baseline)
        assert protocols[name].baseline in chosen and len(chosen) == 2, (name, chosen)
    assert default_sweep(entries, "det-shapes-tiny", "retinanet_r18_fpn_shapes") == {
        "retinanet_r18_fpn_shapes",
        "fcos_r18_fpn_shapes",
    }
