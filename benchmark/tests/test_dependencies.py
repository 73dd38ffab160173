"""Configs that start from the weights of other benchmarked configs (``zoo://NAME``):
the sweep trains the upstream config first, publishes it to its local zoo, starts the
downstream runs from it through the zoo client, and records a downstream run as failed
when the weights it needs could not be made."""

from __future__ import annotations

import contextlib
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
from labbench.dependencies import chained_hash, without_pretrained_weights, zoo_names
from labbench.discovery import registered_configs
from labbench.plan import build_plan
from labbench.protocol import load_all_protocols


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
