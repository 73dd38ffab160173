"""Configs that start from the weights of other benchmarked configs (``zoo://NAME``):
the sweep trains the upstream config first, publishes it to its local zoo, starts the
downstream runs from it through the zoo client, and records a downstream run as failed
when the weights it needs could not be made."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from safetensors.torch import load_file

from labbench import cli
from labbench.dependencies import (
    chained_hash,
    seed_name,
    with_zoo_names,
    without_pretrained_weights,
    zoo_names,
)
from labbench.discovery import registered_configs
from labbench.plan import build_plan
from labbench.protocol import load_all_protocols
from labcore.engine.checkpoint import read_checkpoint


def test_zoo_names_and_dry_run_stripping():
    cfg = {
        "model": {
            "backbone": {"init_cfg": {"type": "Pretrained", "checkpoint": "zoo://a", "prefix": "b."}},
            "head": {"init_cfg": [{"type": "Normal"}, {"type": "Pretrained", "checkpoint": "zoo://b"}]},
            "neck": {"init_cfg": {"type": "Pretrained", "checkpoint": "torchvision://resnet50"}},
        },
        "load_from": None,
    }  # fmt: skip
    assert zoo_names(cfg) == ["a", "b"]
    stripped, removed = without_pretrained_weights(cfg)
    assert removed == ["zoo://a", "zoo://b", "torchvision://resnet50"]
    assert zoo_names(stripped) == [] and stripped["model"]["neck"]["init_cfg"] is None
    assert stripped["model"]["backbone"]["init_cfg"] is None
    assert stripped["model"]["head"]["init_cfg"] == [{"type": "Normal"}]
    renamed = with_zoo_names(cfg, {"a": "a.seed1"})
    assert zoo_names(renamed) == ["a.seed1", "b"] and zoo_names(cfg) == ["a", "b"]
    assert renamed["model"]["neck"] == cfg["model"]["neck"]
    assert chained_hash("abc", []) == "abc"
    assert chained_hash("abc", ["1", "2"]) == chained_hash("abc", ["2", "1"]) != "abc"


def test_plan_adds_the_upstream_runs_first_and_chains_the_hash(toy_world):
    plan = build_plan(
        registered_configs(), load_all_protocols(), selected=["toy-finetune"], only="toy_finetune"
    )
    keys = [(s.protocol.name, s.entry.name, s.seed) for s in plan.runs]
    assert keys == [
        ("toy-tiny", "toy_a", 0), ("toy-tiny", "toy_a", 1),
        ("toy-finetune", "toy_finetune", 0), ("toy-finetune", "toy_finetune", 1),
    ]  # fmt: skip
    upstream_hashes = [s.run_hash for s in plan.runs[:2]]
    for spec in plan.runs[2:]:
        assert spec.upstream == (("toy-tiny", "toy_a"),)
        plain = build_plan(
            registered_configs(), load_all_protocols(), selected=["toy-finetune"],
            only="toy_finetune", mode="dry-run",
        )  # fmt: skip
        assert spec.run_hash != plain.runs[0].run_hash
        assert len(spec.run_hash) == 12
    assert upstream_hashes[0] != upstream_hashes[1]
    assert any("toy_a (toy-tiny) is added" in note for note in plan.notes)


def per_seed_protocols(seeds=None) -> dict:
    """The toy protocols, toy-finetune's runs of seed i starting from toy_a's of seed i;
    ``seeds`` replaces toy-tiny's."""
    protocols = load_all_protocols()
    protocols["toy-finetune"] = dataclasses.replace(
        protocols["toy-finetune"], upstream_weights="per-seed"
    )
    if seeds is not None:
        protocols["toy-tiny"] = dataclasses.replace(protocols["toy-tiny"], seeds=seeds)
    return protocols


def test_per_seed_runs_start_from_the_upstream_run_of_their_seed(toy_world):
    def finetune_plan(protocols, **options):
        return build_plan(
            registered_configs(), protocols, selected=["toy-finetune"], only="toy_finetune",
            **options,
        )  # fmt: skip

    plan = finetune_plan(per_seed_protocols())
    upstream = {s.seed: s for s in plan.runs if s.entry.name == "toy_a"}
    downstream = [s for s in plan.runs if s.entry.name == "toy_finetune"]
    assert [s.seed for s in downstream] == [0, 1] and sorted(upstream) == [0, 1]
    assert plan.runs.index(downstream[0]) > max(plan.runs.index(s) for s in upstream.values())
    published = finetune_plan(load_all_protocols())  # every seed from the representative
    for spec, shared in zip(downstream, published.runs[2:]):
        assert zoo_names(spec.cfg) == [seed_name("toy_a", spec.seed)] == [f"toy_a.seed{spec.seed}"]
        assert zoo_names(shared.cfg) == ["toy_a"]
        assert spec.upstream == shared.upstream == (("toy-tiny", "toy_a"),)
        assert spec.run_hash != shared.run_hash
    # chained to the upstream run of its own seed only: without seed 1, seed 0 is the same run
    seed0 = finetune_plan(per_seed_protocols(), seeds=[0])
    assert [s.run_hash for s in seed0.runs] == [upstream[0].run_hash, downstream[0].run_hash]
    assert any("each seed from the upstream run of its seed" in note for note in plan.notes)


def test_per_seed_runs_need_the_upstream_to_run_their_seeds(toy_world):
    plan = build_plan(
        registered_configs(), per_seed_protocols(seeds=(0,)), selected=["toy-finetune"],
        only="toy_finetune",
    )  # fmt: skip
    assert not plan.runs
    (refusal,) = plan.refused
    assert refusal.config_name == "toy_finetune"
    assert "starts seed i from the run of seed i of zoo://toy_a" in refusal.error
    assert "runs seeds [0] under toy-tiny, not [1]" in refusal.error


def test_dry_run_does_not_wait_for_upstream_weights(toy_world):
    plan = build_plan(
        registered_configs(), load_all_protocols(), selected=["toy-finetune"], mode="dry-run"
    )
    assert {s.entry.name for s in plan.runs} == {"toy_finetune", "toy_after_fail"}
    assert all(not s.upstream and not zoo_names(s.cfg) for s in plan.runs)


def sweep_output(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        return cli.main(list(args)), out.getvalue()


@pytest.fixture(scope="module")
def finetune_sweep(toy_world_files, toy_env, tmp_path_factory):
    work = tmp_path_factory.mktemp("finetune")
    with toy_env(toy_world_files), pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENLAB_HOME", str(work / "home"))
        code, out = sweep_output(
            "--protocol", "toy-finetune", "--work-dir", str(work), "--workers", "2"
        )
        again = sweep_output(
            "--protocol", "toy-finetune", "--work-dir", str(work), "--workers", "2"
        )
    return SimpleNamespace(work=work, code=code, out=out, again=again)


@pytest.mark.slow
def test_downstream_runs_start_from_the_published_upstream_weights(finetune_sweep):
    work = finetune_sweep.work
    manifest = yaml.safe_load((work / "zoo" / "benchtoy.yml").read_text())
    published = {m["name"]: m for m in manifest["models"]}
    # upstream published before the downstream ran; downstream published at the end
    assert {"toy_a", "toy_finetune"} <= set(published)
    assert "toy_fail" not in published and "toy_after_fail" not in published
    assert "toy_finetune" in (work / "zoo" / "model_zoo.md").read_text()
    toy_a = published["toy_a"]
    assert toy_a["protocol"] == {"name": "toy-tiny", "version": 3}
    weights = load_file(work / "zoo" / toy_a["weights"]["path"])
    for run_dir in sorted((work / "runs" / "toy-finetune-v1" / "toy_finetune").iterdir()):
        log = (run_dir / "log.txt").read_text()
        assert "load model from: zoo://toy_a" in log
        assert json.loads((run_dir / "result.json").read_text())["status"] == "finished"
    # the downloaded copy sits in the cache, checked against the manifest's digest
    cached = work / "home" / "zoo" / "benchtoy" / "toy_a" / Path(toy_a["weights"]["path"]).name
    assert load_file(cached).keys() == weights.keys()
    assert torch.equal(load_file(cached)["conv.weight"], weights["conv.weight"])


@pytest.mark.slow
def test_a_run_whose_upstream_failed_is_recorded_as_failed(finetune_sweep):
    assert finetune_sweep.code == 1
    run_dirs = list((finetune_sweep.work / "runs" / "toy-finetune-v1" / "toy_after_fail").iterdir())
    assert len(run_dirs) == 2  # seeds 0 and 1
    for run_dir in run_dirs:
        result = json.loads((run_dir / "result.json").read_text())
        assert result["status"] == "failed"
        assert (
            "zoo://toy_fail (toy-tiny) was not published: one of its runs failed" in result["error"]
        )
        assert not (run_dir / "log.txt").exists()  # never started
    client = MlflowClient(f"sqlite:///{finetune_sweep.work / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("toy-finetune")
    failed = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`labbench.status` = 'failed' and tags.`labbench.kind` = 'seed'",
    )
    assert len(failed) == 2 and "zoo://toy_fail" in failed[0].data.tags["labbench.error"]


@pytest.mark.slow
def test_second_invocation_trains_nothing_and_republishes(finetune_sweep):
    code, out = finetune_sweep.again
    assert "0 trained" in out and "published toy_a (toy-tiny)" in out


@pytest.mark.slow
def test_a_published_model_is_used_as_published_and_not_trained_again(
    finetune_sweep, toy_world, monkeypatch
):
    def finetune_plan():
        return build_plan(
            registered_configs(), load_all_protocols(), selected=["toy-finetune"],
            only="toy_finetune",
        )  # fmt: skip

    chained = finetune_plan()
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", str(finetune_sweep.work / "zoo"))
    plan = finetune_plan()
    assert [s.entry.name for s in plan.runs] == ["toy_finetune", "toy_finetune"]
    assert all(not s.upstream for s in plan.runs)
    # the hash follows the published weights, not the runs that made them
    assert plan.runs[0].run_hash != chained.runs[-2].run_hash


@pytest.mark.slow
def test_a_per_seed_sweep_starts_each_seed_from_the_upstream_run_of_its_seed(
    toy_world, tmp_path, monkeypatch
):
    protocols = tmp_path / "protocols"
    protocols.mkdir()
    finetune = (toy_world.protocols / "toy-finetune.yaml").read_text()
    (protocols / "toy-finetune.yaml").write_text(finetune + "upstream_weights: per-seed\n")
    monkeypatch.setenv("OPENLAB_PROTOCOLS", f"{protocols}:{toy_world.protocols}")
    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    code, out = sweep_output(
        "--protocol", "toy-finetune", "--only", "toy_finetune", "--work-dir", str(work)
    )
    assert code == 0, out
    assert "published toy_a (toy-tiny) and each of its seeds" in out
    manifest = yaml.safe_load((work / "zoo" / "benchtoy.yml").read_text())
    published = {m["name"]: m for m in manifest["models"]}
    assert {"toy_a", "toy_a.seed0", "toy_a.seed1", "toy_finetune"} <= set(published)
    upstream = {
        json.loads((d / "run.json").read_text())["seed"]: d
        for d in (work / "runs" / "toy-tiny-v3" / "toy_a").iterdir()
    }
    for seed in (0, 1):
        entry = published[f"toy_a.seed{seed}"]
        assert entry["seeds"] == [seed] and entry["published_seed"] == seed
        weights = load_file(work / "zoo" / entry["weights"]["path"])
        trained = read_checkpoint(upstream[seed] / "checkpoint.pth").state_dict
        assert torch.equal(weights["conv.weight"], trained["conv.weight"])
    for run_dir in (work / "runs" / "toy-finetune-v1" / "toy_finetune").iterdir():
        seed = json.loads((run_dir / "run.json").read_text())["seed"]
        assert f"load model from: zoo://toy_a.seed{seed}" in (run_dir / "log.txt").read_text()
