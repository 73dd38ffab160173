"""Protocols: the shipped files are valid, and loading explains bad input."""

from __future__ import annotations

import pytest

from labbench.protocol import fill_variables, list_protocols, load_all_protocols, load_protocol
from labbench.resolve import merge_protocol
from labcore.errors import ConfigError

SHIPPED = [
    "cls-shapes-tiny",
    "det-shapes-tiny",
    "imagenet-1k-100e",
    "imagenet-1k-300e",
    "coco-1x",
    "coco-3x",
    "coco-50e",
    "coco-detr-12e",
    "coco-300e",
]


def test_shipped_protocols_load_and_fix_what_a_comparison_needs():
    protocols = load_all_protocols()
    assert set(SHIPPED) <= set(protocols)
    for name in SHIPPED:
        protocol = protocols[name]
        assert protocol.version >= 1 and protocol.task and protocol.baseline
        assert protocol.metric.key and protocol.budget.batch_size > 0
        fixed = protocol.fixed_fields("/data")
        assert fixed["train_cfg"] == protocol.budget.train_cfg()
        assert (
            fixed["train_dataloader"]["batch_size"] * protocol.devices == protocol.budget.batch_size
        )
        assert "pipeline" in fixed["train_dataloader"]["dataset"]
        assert "pipeline" in fixed["val_dataloader"]["dataset"]
        dry = protocol.dry_run_protocol()
        dry_fixed = dry.fixed_fields("/synthetic")
        assert dry_fixed["train_dataloader"]["dataset"]["indices"] == dry_fixed["train_dataloader"][
            "batch_size"
        ] * protocol.dry_run.get("iters", 1)
        if protocol.budget.max_epochs:  # epoch schedules keep their length; one short epoch
            assert (
                dry.budget.max_epochs == protocol.budget.max_epochs and dry.stop_after_epochs == 1
            )
        else:
            assert dry.budget.max_iters == protocol.dry_run.get("iters", 1)
    tiny = [p for p in protocols.values() if p.tiny]
    assert {p.name for p in tiny} >= {"cls-shapes-tiny", "det-shapes-tiny"}
    assert all(p.data.is_synthetic and p.deterministic for p in tiny)
    # and pins its CPU kernels, so its numbers hold on any x86-64 machine with AVX2
    unpinned = sorted(p.name for p in tiny if p.cpu_pins is None)
    assert not unpinned, f"tiny protocols without cpu_pins: {unpinned}"
    # every tiny protocol ranks over three seeds, a pretraining stage too: the linear
    # probe of seed i starts from its run of seed i
    assert all(len(p.seeds) == 3 for p in tiny)
    probe = protocols["ssl-shapes-tiny"]
    assert probe.upstream_weights == "per-seed"
    assert probe.seeds == protocols["ssl-shapes-tiny-pretrain"].seeds
    assert [m.key for m in probe.reported_metrics] == ["knn/top1"]
    assert all(p.upstream_weights == "published" for p in tiny if p is not probe)


def test_upstream_weights_must_be_published_or_per_seed(tmp_path):
    text = (list_protocols()["cls-shapes-tiny"]).read_text()
    path = tmp_path / "cls-shapes-tiny.yaml"
    path.write_text(text + "upstream_weights: same-seed\n")
    with pytest.raises(ConfigError, match="upstream_weights is 'same-seed'; use one of published"):
        load_protocol(path)


def test_full_protocols_point_at_real_data_and_dry_run_on_synthetic_data():
    coco = load_protocol("coco-1x")
    assert not coco.data.is_synthetic and coco.data.root_env == "OPENLAB_COCO"
    fixed = coco.fixed_fields("/datasets/coco")
    assert (
        fixed["train_dataloader"]["dataset"]["ann_file"] == "annotations/instances_train2017.json"
    )
    assert fixed["val_evaluator"]["ann_file"] == "/datasets/coco/annotations/instances_val2017.json"
    dry = coco.dry_run_protocol()
    assert dry.data.is_synthetic and dry.seeds == coco.seeds[:1]
    assert (
        dry.fixed_fields("/s")["val_evaluator"]["ann_file"] == "/s/annotations/instances_val.json"
    )
    masks = coco.fixed_fields("/d", task="instance-segmentation")["train_dataloader"]["dataset"]
    assert {"type": "LoadDetAnnotations", "with_mask": True} in masks["pipeline"]

    # The dry run resizes as COCO does at half its scale (dry_run.resize_scale), in the
    # instance-segmentation pipeline too; the real protocol keeps COCO's scale.
    def resizes(protocol, task=None):
        fields = protocol.fixed_fields("/d", task=task)
        return [
            t["scale"]
            for split in ("train_dataloader", "val_dataloader", "test_dataloader")
            for t in fields[split]["dataset"]["pipeline"]
            if t["type"] == "DetResize"
        ]

    assert resizes(coco) == resizes(coco, "instance-segmentation") == [[1333, 800]] * 3
    assert resizes(dry) == resizes(dry, "instance-segmentation") == [[667, 400]] * 3


def test_a_dry_run_writes_no_resume_checkpoint_and_a_real_run_does():
    coco = load_protocol("coco-1x")
    args = dict(data_root="/s", seed=0, config_name="toy")
    real = merge_protocol({}, coco, **args)["default_hooks"]["checkpoint"]
    assert real["interval"] == coco.checkpoint_every() > 0 and real["save_last"]
    best = {"default_hooks": {"checkpoint": {"type": "CheckpointHook", "save_best": "auto"}}}
    dry = merge_protocol(best, coco.dry_run_protocol(), check=coco, **args)
    hook = dry["default_hooks"]["checkpoint"]
    # MMEngine's hook then never saves, neither the last nor the best checkpoint
    assert hook["interval"] == -1 and not hook["save_last"] and hook["save_best"] is None


def test_unknown_protocol_names_close_matches():
    with pytest.raises(ConfigError, match="Did you mean: coco-1x"):
        load_protocol("coco-1")


def test_protocol_missing_fields_and_bad_budget_are_named(tmp_path):
    (tmp_path / "broken.yaml").write_text("name: broken\nversion: 1\ntask: x\n")
    with pytest.raises(ConfigError, match=r"lacks the fields \['dataset', 'budget'"):
        load_protocol("broken", [tmp_path])
    text = (list_protocols()["cls-shapes-tiny"]).read_text().replace("max_epochs: 20, ", "")
    text = text.replace("name: cls-shapes-tiny", "name: nobudget").replace(
        "batch_size: 32}", "batch_size: 32, max_epochs: 2, max_iters: 5}"
    )
    (tmp_path / "nobudget.yaml").write_text(text)
    with pytest.raises(ConfigError, match="exactly one of max_iters and max_epochs"):
        load_protocol(tmp_path / "nobudget.yaml")


def test_variables_fill_strings_and_unknown_ones_are_errors():
    tree = {"a": ["${data_root}/x", {"b": "${v}"}], "c": 3}
    assert fill_variables(tree, {"data_root": "/r", "v": "y"}) == {
        "a": ["/r/x", {"b": "y"}],
        "c": 3,
    }
    with pytest.raises(ConfigError, match=r"\$\{missing\} has no value"):
        fill_variables("${missing}", {"data_root": "/r"})


def test_every_shipped_protocol_states_its_checkpoint_interval_and_others_default(tmp_path):
    protocols = load_all_protocols()
    for name in SHIPPED:
        protocol = protocols[name]
        length = protocol.budget.max_iters or protocol.budget.max_epochs
        assert protocol.checkpoint_interval is not None
        assert 1 <= protocol.checkpoint_every() <= length
    assert protocols["det-shapes-tiny"].checkpoint_every() == 100
    source = list_protocols()["det-shapes-tiny"].read_text()
    unstated = source.replace("checkpoint_interval: 100\n", "").replace(
        "name: det-shapes-tiny", "name: unstated"
    )
    (tmp_path / "unstated.yaml").write_text(unstated)
    assert load_protocol(tmp_path / "unstated.yaml").checkpoint_every() == 60  # a tenth
    (tmp_path / "bad.yaml").write_text(
        source.replace("checkpoint_interval: 100", "checkpoint_interval: 0").replace(
            "name: det-shapes-tiny", "name: bad"
        )
    )
    with pytest.raises(ConfigError, match="checkpoint_interval must be a positive number"):
        load_protocol(tmp_path / "bad.yaml")
