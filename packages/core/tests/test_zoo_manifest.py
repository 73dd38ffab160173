"""Model-zoo manifests: the repository's files validate, the schema and the generated
docs are up to date, and invalid entries are refused naming the field."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from labcore.zoo import settings
from labcore.zoo.docs import render
from labcore.zoo.errors import ZooError
from labcore.zoo.manifest import (
    UPSTREAM_FILE,
    UpstreamWeights,
    ZooEntry,
    all_entries,
    find_entry,
    json_schema,
    manifest_files,
    read_manifest,
    write_entries,
)

REPO_ZOO = settings.repository_model_zoo()

ENTRY = {
    "name": "resnet18_tiny_shapes",
    "codebase": "labcls",
    "config": "labcls::resnet/resnet18_tiny_shapes.py",
    "task": "image-classification",
    "protocol": {"name": "cls-shapes-tiny", "version": 1},
    "metrics": {"top1": {"mean": 0.95, "std": 0.01, "published": 0.96}},
    "seeds": [0, 1, 2],
    "published_seed": 1,
    "params": 2_790_000,
    "flops": 37_000_000,
    "weights": {
        "path": "labcls/resnet18_tiny_shapes/resnet18_tiny_shapes-3f2a9c1d.safetensors",
        "urls": ["https://zoo.example.org/labcls/resnet18_tiny_shapes-3f2a9c1d.safetensors"],
        "sha256": "3f2a9c1d" + "0" * 56,
        "size": 11_170_000,
        "format": "safetensors",
    },
    "mlflow_run_id": "4b9f0c2e8d7a4f1b",
    "git_commit": "367794a",
    "date": "2026-11-25",
    "license": "Apache-2.0",
}


def write_manifest(path, *entries, codebase="labcls"):
    path.write_text(
        yaml.safe_dump({"schema_version": 1, "codebase": codebase, "models": list(entries)})
    )
    return path


@pytest.mark.skipif(REPO_ZOO is None, reason="not a source checkout")
def test_repository_manifests_schema_and_docs_are_valid_and_current():
    files = manifest_files([REPO_ZOO])
    assert {f.stem for f in files} >= {"labcls", "labdet"}
    entries = all_entries([REPO_ZOO])  # validates every file
    for path in files:
        expected = None if path.stem.startswith("imported-") else path.stem  # several codebases
        assert read_manifest(path).codebase == expected
    assert json.loads((REPO_ZOO / "schema.json").read_text()) == json_schema(), (
        "model_zoo/schema.json is stale: run `lab zoo schema`"
    )
    docs = REPO_ZOO.parent / "docs" / "model_zoo.md"
    assert docs.read_text() == render(entries), "docs/model_zoo.md is stale: run `lab zoo docs`"


def test_a_valid_entry_round_trips(tmp_path):
    path = write_manifest(tmp_path / "labcls.yml", ENTRY)
    (entry,) = read_manifest(path).models
    assert entry.weights.file_name == "resnet18_tiny_shapes-3f2a9c1d.safetensors"
    assert entry.metrics["top1"].published == 0.96 and entry.weights.layout == "openlab"
    assert find_entry("resnet18_tiny_shapes", [tmp_path]) == entry
    with pytest.raises(ZooError, match="Did you mean: resnet18_tiny_shapes"):
        find_entry("resnet18_tiny_shape", [tmp_path])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["weights"].update(sha256="abc"), "models.0.weights.sha256"),
        (lambda e: e.update(published_seed=7), "published_seed 7 is not in seeds"),
        (lambda e: e.update(colour="red"), "models.0.colour: Extra inputs are not permitted"),
        (lambda e: e["weights"].update(urls=[]), "models.0.weights.urls"),
        (lambda e: e["weights"].update(layout="torchvision"), "needs `family`"),
        (lambda e: e.update(codebase="labdet"), "has codebase 'labdet', not 'labcls'"),
        (lambda e: e.pop("license"), "models.0.license: Field required"),
    ],
)
def test_invalid_entries_are_refused_naming_the_field(tmp_path, change, message):
    entry = copy.deepcopy(ENTRY)
    change(entry)
    path = write_manifest(tmp_path / "labcls.yml", entry)
    with pytest.raises(ZooError, match="labcls.yml is invalid") as err:
        read_manifest(path)
    assert message in str(err.value)


def test_duplicate_names_are_refused(tmp_path):
    with pytest.raises(ZooError, match="repeated: \\['resnet18_tiny_shapes'\\]"):
        read_manifest(write_manifest(tmp_path / "labcls.yml", ENTRY, ENTRY))
    write_manifest(tmp_path / "labcls.yml", ENTRY)
    write_manifest(tmp_path / "other.yml", ENTRY)
    with pytest.raises(ZooError, match="published in both"):
        all_entries([tmp_path])


def test_write_entries_adds_and_replaces_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
    first = ZooEntry.model_validate(ENTRY)
    second = first.model_copy(update={"name": "a_model"})
    write_entries([first, second], tmp_path / "zoo")
    replaced = first.model_copy(update={"params": 5})
    (path,) = write_entries([replaced], tmp_path / "zoo")
    models = read_manifest(path).models
    assert [m.name for m in models] == ["a_model", "resnet18_tiny_shapes"]
    assert models[1].params == 5
    assert path.read_text().startswith("# OpenLab model zoo: models published for labcls.")


def test_docs_show_mean_std_published_and_links():
    text = render([ZooEntry.model_validate(ENTRY)])
    assert "## labcls" in text and "### image-classification" in text
    assert "top1 0.9500 ± 0.0100 (published **0.9600**)" in text
    assert "[resnet18_tiny_shapes-3f2a9c1d.safetensors](https://zoo.example.org/" in text
    assert "| 2.79M | 0.04G |" in text


def test_a_manifest_path_that_does_not_exist_is_named_once(tmp_path, monkeypatch, caplog):
    """OPENLAB_ZOO_MANIFESTS with a typo used to give an empty zoo without a word."""
    import logging
    import os

    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", os.pathsep.join([str(missing), str(tmp_path)]))
    with caplog.at_level(logging.WARNING, logger="labcore.zoo"):
        assert settings.manifest_locations() == [missing, tmp_path]
        settings.manifest_locations()
    warnings = [r.getMessage() for r in caplog.records if "OPENLAB_ZOO_MANIFESTS" in r.getMessage()]
    assert len(warnings) == 1 and f"names {missing}, which does not exist" in warnings[0]


MMPOSE_URL = (
    "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
    "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth"
)


def _upstream(url: str, prefix: str) -> dict:
    return dict(
        url=url,
        sha256_prefix=prefix,
        layout="openmmlab",
        converter="labpose.models.convert:convert_openmmlab_pose",
    )


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("resnet18-f37072fd.pth", "f37072fd"),
        ("resnet50_8xb32_in1k_20210831-ea4938fc.pth", "ea4938fc"),
        ("td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth", "04af38ce"),
        ("vit_b_16_swag-9ac1b537.pth", "9ac1b537"),
    ],
)
def test_upstream_file_names_give_their_hash_prefix(name, prefix):
    """MMPose puts the publishing date after the hash (``-<sha256[:8]>_<YYYYMMDD>``)."""
    assert UPSTREAM_FILE.match(name)[1] == prefix


@pytest.mark.parametrize("name", ["x-81c58e40_2022090.pth", "x-81c58e40_20220909_1.pth", "x.pth"])
def test_upstream_file_names_without_a_hash_do_not_match(name):
    assert UPSTREAM_FILE.match(name) is None


def test_a_dated_upstream_name_is_checked_against_its_hash_prefix():
    weights = UpstreamWeights.model_validate(_upstream(MMPOSE_URL, "81c58e40"))
    assert weights.file_name.endswith("-81c58e40_20220909.pth")
    with pytest.raises(ValueError, match="does not carry the hash prefix 20220909"):
        UpstreamWeights.model_validate(_upstream(MMPOSE_URL, "20220909"))
    with pytest.raises(ValueError, match="does not carry the hash prefix 0e67c616"):
        UpstreamWeights.model_validate(_upstream(MMPOSE_URL, "0e67c616"))
