"""Imported zoo entries (torchvision-published weights) against a real HTTP server on
127.0.0.1 that serves them under upstream-style names (``resnet18-<sha256 prefix>.pth``):
download, the prefix check, a mismatch refused and deleted, conversion, cached reuse
without conversion, and a malicious pickle refused without running."""

from __future__ import annotations

import hashlib
import shutil

import pytest
import torch
import yaml

from labcore.errors import CheckpointError
from labcore.zoo import client as zoo
from labcore.zoo.client import cache_path, converted_path
from labcore.zoo.errors import ChecksumError, DownloadError, ZooError
from labcore.zoo.manifest import ImportedEntry, Manifest, read_manifest

CONFIG = "labcls::resnet/resnet18_8xb32_in1k.py"


def publish_upstream(server, source, stem="resnet18", prefix_digits=8, date=""):
    """Serve ``source`` as ``<stem>-<sha256 prefix>.pth`` (``<stem>-<prefix>_<date>.pth``
    with a ``date``, as MMPose names its files); return (url, prefix, digest)."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    prefix = digest[:prefix_digits]
    name = f"{stem}-{prefix}{f'_{date}' if date else ''}.pth"
    shutil.copyfile(source, server.models / name)
    return f"{server.url}/{name}", prefix, digest


def write_imported(
    zoo_env, url, prefix, sha256=None, name="tv_resnet18_test", project="torchvision"
):
    weights = dict(
        url=url,
        sha256_prefix=prefix,
        layout=project,
        converter=f"labcore.models.convert:convert_{project}_classifier",
        converter_args={"family": "resnet"},
    )
    if sha256:
        weights["sha256"] = sha256
    entry = dict(
        kind="imported",
        name=name,
        codebase="labcls",
        config=CONFIG,
        task="image-classification",
        source=dict(project="torchvision", package="torchvision", version="0.0", weights="R18.V1"),
        weights=weights,
        metrics={"acc@1": 69.758},
        dataset="ImageNet-1K",
        metrics_link="https://pytorch.org/vision/stable/models.html",
        params=11_689_512,
        license="BSD-3-Clause",
    )
    path = zoo_env / "manifests" / "imported-test.yml"
    path.write_text(yaml.safe_dump({"schema_version": 2, "models": [entry]}))
    return read_manifest(path).models[0]


def test_download_check_convert_and_cached_reuse(zoo_env, server, torchvision_resnet18):
    tv_model, source = torchvision_resnet18
    url, prefix, digest = publish_upstream(server, source)
    entry = write_imported(zoo_env, url, prefix)
    assert isinstance(entry, ImportedEntry)

    path = zoo.download(entry.name)
    assert path.name == f"resnet18-{prefix}.pth"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest

    model = zoo.init_model(entry.name)  # converted, loaded strictly into the labcls config
    assert converted_path(entry).is_file()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = tv_model(images)
        ours = model.head.fc(model.neck(model.backbone(images))[-1])
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)

    # the converted file is reused: the upstream source is gone, the cache still loads,
    # and nothing reads the upstream file again (it is made unreadable garbage)
    (server.models / path.name).unlink()
    first = zoo.load(entry.name)
    cache_path(entry).write_bytes(b"not a pickle")
    again = zoo.load(entry.name)
    assert again.keys() == first.keys()
    assert all(torch.equal(again[k], first[k]) for k in first)
    # through MMEngine's checkpoint loaders too (init_cfg / load_from / lab infer)
    from labcore.engine.checkpoint import read_checkpoint

    assert read_checkpoint(f"zoo://{entry.name}").state_dict.keys() == first.keys()


def test_full_digest_is_checked_when_recorded(zoo_env, server, torchvision_resnet18):
    _, source = torchvision_resnet18
    url, prefix, digest = publish_upstream(server, source)
    write_imported(zoo_env, url, prefix, sha256=digest)
    assert zoo.download("tv_resnet18_test").is_file()
    assert zoo.verify_file("tv_resnet18_test").is_file()


def test_a_file_whose_hash_does_not_match_its_name_is_refused_and_deleted(
    zoo_env, server, torchvision_resnet18
):
    _, source = torchvision_resnet18
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    wrong = "0" * 8 if not digest.startswith("0" * 8) else "1" * 8
    shutil.copyfile(source, server.models / f"resnet18-{wrong}.pth")
    entry = write_imported(zoo_env, f"{server.url}/resnet18-{wrong}.pth", wrong)
    with pytest.raises(DownloadError, match=f"starting with {wrong}, got {digest}"):
        zoo.load(entry.name)
    folder = cache_path(entry).parent
    assert not cache_path(entry).exists()
    assert not [p for p in folder.iterdir() if p.suffix in (".part", ".pth", ".safetensors")]


def test_a_dated_upstream_name_is_downloaded_and_checked_against_its_prefix(
    zoo_env, server, torchvision_resnet18
):
    _, source = torchvision_resnet18
    url, prefix, digest = publish_upstream(server, source, date="20220909")
    entry = write_imported(zoo_env, url, prefix)
    path = zoo.download(entry.name)
    assert path.name == f"resnet18-{prefix}_20220909.pth"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert zoo.verify_file(entry.name) == path


def test_a_dated_file_whose_hash_does_not_match_its_name_is_refused_and_deleted(
    zoo_env, server, torchvision_resnet18
):
    _, source = torchvision_resnet18
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    wrong = "0" * 8 if not digest.startswith("0" * 8) else "1" * 8
    name = f"resnet18-{wrong}_20220909.pth"
    shutil.copyfile(source, server.models / name)
    entry = write_imported(zoo_env, f"{server.url}/{name}", wrong)
    with pytest.raises(DownloadError, match=f"starting with {wrong}, got {digest}"):
        zoo.load(entry.name)
    assert not cache_path(entry).exists()
    assert not [p for p in cache_path(entry).parent.iterdir() if p.suffix in (".part", ".pth")]


def test_a_cached_file_that_no_longer_matches_is_deleted_by_verify(
    zoo_env, server, torchvision_resnet18
):
    _, source = torchvision_resnet18
    url, prefix, digest = publish_upstream(server, source)
    entry = write_imported(zoo_env, url, prefix)
    zoo.load(entry.name)
    cache_path(entry).write_bytes(b"changed")
    with pytest.raises(ChecksumError, match=f"expected {prefix}"):
        zoo.verify_file(entry.name)
    assert not cache_path(entry).exists() and not converted_path(entry).exists()


class Payload:
    """Unpickling this runs ``open(marker, 'w')``: a stand-in for arbitrary code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_malicious_pickle_under_an_upstream_name_is_refused_without_running(
    zoo_env, server, tmp_path
):
    marker = tmp_path / "the-payload-ran"
    evil = tmp_path / "evil.pth"
    torch.save({"fc.weight": torch.zeros(2), "hook": Payload(marker)}, evil)
    url, prefix, _ = publish_upstream(server, evil)  # its name carries the right hash
    entry = write_imported(zoo_env, url, prefix)
    with pytest.raises(CheckpointError):
        zoo.load(entry.name)
    assert not marker.exists()
    assert not converted_path(entry).exists()


def test_offline_uses_the_converted_cache_only(zoo_env, server, torchvision_resnet18, monkeypatch):
    _, source = torchvision_resnet18
    url, prefix, _ = publish_upstream(server, source)
    entry = write_imported(zoo_env, url, prefix)
    monkeypatch.setenv("OPENLAB_OFFLINE", "1")
    with pytest.raises(ZooError, match="OPENLAB_OFFLINE"):
        zoo.load(entry.name)
    monkeypatch.delenv("OPENLAB_OFFLINE")
    zoo.load(entry.name)
    monkeypatch.setenv("OPENLAB_OFFLINE", "1")
    assert "head.fc.weight" in zoo.load(entry.name)


def test_schema_versions_and_the_hash_in_the_file_name():
    old = Manifest.model_validate({"schema_version": 1, "codebase": "labcls", "models": []})
    assert old.schema_version == 1
    entry = dict(
        kind="imported", name="x", codebase="labcls", config=CONFIG, task="t",
        source=dict(project="torchvision", package="torchvision", version="0", weights="W"),
        weights=dict(
            url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
            sha256_prefix="f37072fd", layout="torchvision", converter="m:f",
        ),
        metrics={"acc@1": 1.0}, dataset="d", metrics_link="l", params=1, license="BSD-3-Clause",
    )  # fmt: skip
    assert Manifest.model_validate({"models": [entry]}).models[0].kind == "imported"
    with pytest.raises(ValueError, match="need schema_version: 2"):
        Manifest.model_validate({"schema_version": 1, "codebase": "labcls", "models": [entry]})
    entry["weights"]["sha256_prefix"] = "f37072fe"
    with pytest.raises(ValueError, match="does not carry the hash prefix f37072fe"):
        Manifest.model_validate({"models": [entry]})


def lab_zoo(*argv) -> int:
    import argparse

    from labcore.cli import zoo as zoo_cli

    parser = argparse.ArgumentParser(prog="lab zoo")
    zoo_cli.add_arguments(parser)
    return zoo_cli.run(parser.parse_args([str(a) for a in argv]))


def test_list_download_and_docs_keep_imported_entries_apart(
    zoo_env, server, torchvision_resnet18, capsys
):
    _, source = torchvision_resnet18
    url, prefix, _ = publish_upstream(server, source)
    entry = write_imported(zoo_env, url, prefix)
    assert lab_zoo("list", "--source", "torchvision") == 0
    listed = capsys.readouterr().out
    assert "KIND" in listed and "imported" in listed and "acc@1=69.758" in listed
    assert lab_zoo("list", "--source", "openlab") == 0
    assert "no published models match" in capsys.readouterr().out
    assert lab_zoo("download", entry.name) == 0
    assert capsys.readouterr().out.strip().endswith(f"resnet18-{prefix}.pth")

    from labcore.zoo.docs import render

    page = render([entry])
    trained, imported = page.split("## Imported weights")
    assert entry.name not in trained and "No OpenLab-trained models" in trained
    assert f"`lab zoo download {entry.name}`" in imported and f"resnet18-{prefix}.pth" in imported


def test_an_openmmlab_checkpoint_is_unwrapped_and_converted(
    zoo_env, server, torchvision_resnet18, tmp_path
):
    """MMPretrain's layout: ``{'meta': ..., 'state_dict': {'backbone.*', 'head.fc.*'}}``
    (its ResNet keeps torchvision's layer names), under an MMPretrain-style file name."""
    tv_model, _ = torchvision_resnet18
    state = {
        (f"head.{k}" if k.startswith("fc.") else f"backbone.{k}"): v
        for k, v in tv_model.state_dict().items()
    }
    meta = {"epoch": 100, "mmcls_version": "0.15.0", "CLASSES": ["tench", "goldfish"]}
    source = tmp_path / "checkpoint.pth"
    torch.save({"meta": meta, "state_dict": state}, source)
    url, prefix, _ = publish_upstream(server, source, stem="resnet18_8xb32_in1k_20210831")
    entry = write_imported(zoo_env, url, prefix, name="mm_resnet18_test", project="openmmlab")
    model = zoo.init_model(entry.name)
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = model.head.fc(model.neck(model.backbone(images))[-1])
        torch.testing.assert_close(ours, tv_model(images), atol=1e-5, rtol=0)


def test_a_mirror_serves_the_upstream_file_first(
    zoo_env, server, torchvision_resnet18, monkeypatch
):
    """A mirror holds the file under ``imported/<layout>/<upstream name>``; the upstream
    URL (dead here) is not needed."""
    _, source = torchvision_resnet18
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    mirrored = server.models.parent / "imported" / "torchvision"
    mirrored.mkdir(parents=True)
    shutil.copyfile(source, mirrored / f"resnet18-{digest[:8]}.pth")
    dead = f"http://127.0.0.1:9/models/resnet18-{digest[:8]}.pth"
    entry = write_imported(zoo_env, dead, digest[:8])
    monkeypatch.setenv("OPENLAB_ZOO_MIRRORS", server.url.rsplit("/", 1)[0])
    assert "head.fc.weight" in zoo.load(entry.name)


def test_record_digests_writes_the_full_sha256_and_size_and_keeps_the_header(
    zoo_env, server, torchvision_resnet18, capsys
):
    from labcore.cli.main import main

    _, source = torchvision_resnet18
    url, prefix, digest = publish_upstream(server, source)
    write_imported(zoo_env, url, prefix)
    path = zoo_env / "manifests" / "imported-test.yml"
    path.write_text("# generated: imported weights\n" + path.read_text())
    assert main(["zoo", "record-digests", str(path)]) == 0
    assert f"sha256 {digest}" in capsys.readouterr().out
    (entry,) = read_manifest(path).models
    assert entry.weights.sha256 == digest and entry.weights.size == source.stat().st_size
    assert path.read_text().startswith("# generated: imported weights\n")
    # from then on the full digest is checked: a file that keeps the prefix but not the
    # digest is refused (here the recorded digest is altered to stand for another file)
    text = path.read_text().replace(digest, prefix + "0" * (64 - len(prefix)))
    path.write_text(text)
    cache_path(entry).unlink()
    with pytest.raises(DownloadError, match=f"sha256 mismatch: expected {prefix}0+, got {digest}"):
        zoo.download(entry.name)
    # an entry that cannot be fetched is named and the command fails; the others stay
    (server.models / url.rsplit("/", 1)[1]).unlink()
    assert main(["zoo", "record-digests", str(path), entry.name]) == 1
    assert f"{entry.name}: FAILED" in capsys.readouterr().out
    assert main(["zoo", "record-digests", str(path), "no_such_entry"]) == 1
