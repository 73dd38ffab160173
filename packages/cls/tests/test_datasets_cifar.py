"""CIFAR-10/100 read from files written in the published pickle format."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from labcls.datasets import CIFAR10, CIFAR100, DatasetError

PIPELINE = [dict(type="PackClsInputs")]


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def _dump(path, content):
    with open(path, "wb") as f:
        pickle.dump(content, f, protocol=2)  # the published files are python 2 pickles


def _write_cifar10(root, per_batch=3):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"class{i}".encode() for i in range(10)]
    _dump(folder / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    batches = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = _images(per_batch, i)
        labels = [(i + j) % 10 for j in range(per_batch)]
        _dump(folder / name, {b"batch_label": name.encode(), b"data": data, b"labels": labels})
        batches[name] = (data, labels)
    return batches


def test_cifar10_images_are_the_rgb_planes(tmp_path):
    batches = _write_cifar10(tmp_path)
    train = CIFAR10(data_root=str(tmp_path), split="train", pipeline=PIPELINE)
    test = CIFAR10(data_root=str(tmp_path / "cifar-10-batches-py"), split="test")
    assert len(train) == 15 and len(test) == 3
    assert train.metainfo["classes"][3] == "class3"
    data, labels = batches["data_batch_2"]
    info = train.get_data_info(3 + 1)
    np.testing.assert_array_equal(info["img"][:, :, 0], data[1, :1024].reshape(32, 32))
    np.testing.assert_array_equal(info["img"][:, :, 2], data[1, 2048:].reshape(32, 32))
    assert info["gt_label"] == labels[1]
    packed = train[4]
    assert packed["inputs"].shape == (3, 32, 32)
    assert packed["data_samples"].gt_label.item() == labels[1]


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _dump(folder / "meta", {b"fine_label_names": [f"f{i}".encode() for i in range(100)]})
    for split, n in (("train", 4), ("test", 2)):
        _dump(folder / split, {b"data": _images(n, 0), b"fine_labels": [99] * n,
                               b"coarse_labels": [0] * n})  # fmt: skip
    train = CIFAR100(data_root=str(tmp_path), split="train")
    assert len(train) == 4 and train.get_data_info(0)["gt_label"] == 99
    assert len(train.metainfo["classes"]) == 100


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickles_with_code_are_refused(tmp_path):
    _write_cifar10(tmp_path)
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": _Exploit(), b"labels": []})
    with pytest.raises(DatasetError, match="system"):
        CIFAR10(data_root=str(tmp_path), split="test")


def test_missing_file_and_bad_label(tmp_path):
    with pytest.raises(DatasetError, match="batches.meta"):
        CIFAR10(data_root=str(tmp_path))
    _write_cifar10(tmp_path)
    _dump(
        tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": _images(1, 0), b"labels": [12]}
    )
    with pytest.raises(DatasetError, match="label 12"):
        CIFAR10(data_root=str(tmp_path), split="test")


def test_a_cut_pickle_names_the_file(tmp_path):
    _write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(DatasetError, match=f"CIFAR file '{batch}' is corrupt"):
        CIFAR10(data_root=str(tmp_path), split="test")
