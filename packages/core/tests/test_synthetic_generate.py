"""Determinism, caching and argument checks of the synthetic shapes generator."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from labcore.datasets.synthetic import (
    MANIFEST_NAME,
    ensure_shapes,
    generate_shapes,
    verify_shapes,
)
from labcore.errors import LabError

SMALL = {
    "cls": {"num_train": 16, "num_val": 8, "image_size": 32},
    "det": {"num_train": 6, "num_val": 3, "image_size": 64},
    "seg": {"num_train": 6, "num_val": 3, "image_size": 64},
    "pose": {"num_train": 6, "num_val": 3, "image_size": 64},
    "rot": {"num_train": 6, "num_val": 3, "image_size": 64},
}


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("task", ["cls", "det", "seg", "pose", "rot"])
def test_same_arguments_give_byte_identical_files(tmp_path, task):
    first = generate_shapes(task, tmp_path / "a", seed=3, **SMALL[task])
    second = generate_shapes(task, tmp_path / "b", seed=3, **SMALL[task])
    files = _file_bytes(first)
    assert files == _file_bytes(second)
    assert MANIFEST_NAME in files
    expected_images = SMALL[task]["num_train"] + SMALL[task]["num_val"]
    assert sum(name.endswith(".jpg") for name in files) == expected_images


def test_seed_changes_the_images(tmp_path):
    a = _file_bytes(generate_shapes("det", tmp_path / "a", seed=0, **SMALL["det"]))
    b = _file_bytes(generate_shapes("det", tmp_path / "b", seed=1, **SMALL["det"]))
    assert a["train/000000.jpg"] != b["train/000000.jpg"]
    assert a["annotations/instances_train.json"] != b["annotations/instances_train.json"]


def test_first_images_do_not_depend_on_the_split_length(tmp_path):
    short = _file_bytes(generate_shapes("det", tmp_path / "a", num_train=2, num_val=1))
    long = _file_bytes(generate_shapes("det", tmp_path / "b", num_train=5, num_val=1))
    assert short["train/000000.jpg"] == long["train/000000.jpg"]
    assert short["train/000001.jpg"] == long["train/000001.jpg"]
    assert short["val/000000.jpg"] == long["val/000000.jpg"]


def test_manifest_records_arguments_and_annotation_digests(tmp_path):
    root = generate_shapes("seg", tmp_path / "seg", seed=5, **SMALL["seg"])
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["task"] == "seg"
    assert (manifest["seed"], manifest["version"], manifest["image_size"]) == (5, 1, 64)
    assert (manifest["num_train"], manifest["num_val"]) == (6, 3)
    digests = manifest["annotations_sha256"]
    assert digests["classes.txt"] == hashlib.sha256((root / "classes.txt").read_bytes()).hexdigest()
    assert set(digests) == {"classes.txt", "annotations/train/*.png", "annotations/val/*.png"}


def test_unknown_version_names_the_known_ones(tmp_path):
    with pytest.raises(LabError, match=r"version 7.*known versions are 1"):
        generate_shapes("det", tmp_path / "x", version=7)
    assert not (tmp_path / "x").exists()


def test_unknown_task_suggests_a_close_one(tmp_path):
    with pytest.raises(LabError, match=r"Unknown shapes task 'dets'.*'det'"):
        generate_shapes("dets", tmp_path / "x")


@pytest.mark.parametrize(
    ("key", "value"), [("num_train", 0), ("num_val", -1), ("image_size", 8), ("seed", -2)]
)
def test_invalid_sizes_are_refused(tmp_path, key, value):
    with pytest.raises(LabError, match=key):
        generate_shapes("cls", tmp_path / "x", **{key: value})


def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(LabError, match="not empty"):
        generate_shapes("cls", tmp_path, **SMALL["cls"])
    assert (tmp_path / "keep.txt").read_text() == "user data"


def test_ensure_shapes_generates_once_then_reuses(tmp_path):
    root = ensure_shapes("det", tmp_path, seed=2, **SMALL["det"])
    assert root.parent == tmp_path
    assert root.name == "shapes-det-v1-seed2-6x3-64px"
    stamp = (root / MANIFEST_NAME).stat().st_mtime_ns
    assert ensure_shapes("det", tmp_path, seed=2, **SMALL["det"]) == root
    assert (root / MANIFEST_NAME).stat().st_mtime_ns == stamp
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and "tmp" in p.name]
    assert leftovers == []
    # The cached copy is the same data set that generate_shapes writes.
    direct = generate_shapes("det", tmp_path / "direct", seed=2, **SMALL["det"])
    assert _file_bytes(direct) == _file_bytes(root)


def test_ensure_shapes_defaults_to_openlab_data(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLAB_DATA", str(tmp_path / "cache"))
    root = ensure_shapes("cls", **SMALL["cls"])
    assert root.parent == tmp_path / "cache"
    assert (root / "meta" / "train.txt").is_file()


def test_ensure_shapes_from_concurrent_callers(tmp_path):
    roots, errors = [], []

    def call():
        try:
            roots.append(ensure_shapes("pose", tmp_path, **SMALL["pose"]))
        except Exception as err:  # reported below, in the main thread
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(roots)) == 1
    assert (roots[0] / "annotations" / "keypoints_val.json").is_file()


def test_a_changed_data_set_is_detected(tmp_path):
    root = ensure_shapes("det", tmp_path, **SMALL["det"])
    assert verify_shapes(root)["task"] == "det"
    annotations = root / "annotations" / "instances_val.json"
    annotations.write_text(annotations.read_text().replace('"area":', '"area": 1, "x":', 1))
    (root / "train" / "000001.jpg").unlink()
    with pytest.raises(LabError) as error:
        ensure_shapes("det", tmp_path, **SMALL["det"])
    message = str(error.value)
    assert "annotations/instances_val.json was modified" in message
    assert "train/ holds 5 images, not 6" in message and "Delete the folder" in message


def test_verify_shapes_refuses_a_folder_without_manifest(tmp_path):
    with pytest.raises(LabError, match="not a generated shapes data set"):
        verify_shapes(tmp_path)


@pytest.mark.parametrize("task", ["cls", "seg"])
def test_verify_shapes_counts_the_images_of_every_layout(tmp_path, task):
    root = generate_shapes(task, tmp_path / task, **SMALL[task])
    assert verify_shapes(root)["num_val"] == SMALL[task]["num_val"]


def test_ensure_shapes_removes_what_a_killed_generation_left(tmp_path):
    stale = tmp_path / ".shapes-cls-v1-seed0-16x8-32px.tmp-abc123"
    (stale / "train").mkdir(parents=True)
    root = ensure_shapes("cls", tmp_path, **SMALL["cls"])
    assert not stale.exists()
    assert (root / MANIFEST_NAME).is_file()


def test_ensure_shapes_refuses_an_incomplete_folder(tmp_path):
    (tmp_path / "shapes-cls-v1-seed0-16x8-32px").mkdir()
    with pytest.raises(LabError, match="Delete the folder"):
        ensure_shapes("cls", tmp_path, **SMALL["cls"])


def test_rotated_task_writes_dota_label_files(tmp_path):
    root = generate_shapes("rot", tmp_path / "rot", seed=0, num_train=12, num_val=2, image_size=96)
    assert verify_shapes(root)["task"] == "rot"
    lines = [
        line.split()
        for path in sorted((root / "train" / "labelTxt").glob("*.txt"))
        for line in path.read_text().splitlines()
    ]
    assert len(sorted((root / "train" / "images").glob("*.jpg"))) == 12
    assert lines and all(len(fields) == 10 for fields in lines)
    classes = (root / "classes.txt").read_text().split()
    assert {fields[8] for fields in lines} <= set(classes)
    assert {fields[9] for fields in lines} <= {"0", "1"}
    for fields in lines:  # four corners of a rectangle: equal diagonals
        x = [float(v) for v in fields[0:8:2]]
        y = [float(v) for v in fields[1:8:2]]
        d1 = ((x[2] - x[0]) ** 2 + (y[2] - y[0]) ** 2) ** 0.5
        d2 = ((x[3] - x[1]) ** 2 + (y[3] - y[1]) ** 2) ** 0.5
        assert abs(d1 - d2) < 0.05


def test_version_1_segmentation_is_unchanged_by_version_2(tmp_path):
    root = generate_shapes("seg", tmp_path / "v1", seed=0, num_train=4, num_val=2, image_size=64)
    digests = json.loads((root / MANIFEST_NAME).read_text())["annotations_sha256"]
    # the label maps version 1 wrote before version 2 existed
    assert digests["annotations/train/*.png"] == (
        "d27733f6bfad8a04833b0f3b8cfc463723ff4ef5bbf97e755bc0b3a621df49b0"
    )
    assert digests["annotations/val/*.png"] == (
        "43906943fd35ad4ae7adc8f905fc4deb073f78bae420ce605ef64ddaaafac1e1"
    )


def test_version_2_segmentation_draws_fewer_larger_shapes():
    from labcore.datasets.synthetic.generate import VERSIONS, _scenes, image_rng

    def scenes(version):
        rngs = (
            (i, image_rng(seed=0, version=version, task="seg", split="train", index=i))
            for i in range(40)
        )
        return [scene for _, scene in _scenes(rngs, VERSIONS[version], "seg", 64)]

    def mean_area(found):
        areas = [int(s.full_mask.sum()) for scene in found for s in scene.instances]
        return sum(areas) / len(areas)

    v1, v2 = scenes(1), scenes(2)
    assert all(2 <= len(scene.instances) <= 5 for scene in v2)
    assert max(len(scene.instances) for scene in v1) > 5
    assert mean_area(v2) > 1.5 * mean_area(v1)
