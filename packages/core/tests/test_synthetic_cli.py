"""``lab data shapes``: the command writes the data set and says what it wrote."""

from __future__ import annotations

import argparse
import json

import pytest

from labcore.cli import data, main
from labcore.datasets.synthetic import MANIFEST_NAME, generate_shapes
from labcore.errors import LabError


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lab data")
    data.add_arguments(parser)
    return parser.parse_args(argv)


def test_data_is_a_lab_command():
    assert "data" in main.COMMANDS
    assert data.__doc__.strip().splitlines()[0]


def test_shapes_writes_the_data_set_and_reports_it(tmp_path, capsys):
    out = tmp_path / "det"
    argv = ["shapes", "--task", "det", "--out", str(out), "--seed", "4", "--num-train", "5",
            "--num-val", "2", "--image-size", "48"]  # fmt: skip
    assert data.run(_parse(argv)) == 0
    printed = capsys.readouterr().out
    assert "Wrote 10 files (7 .jpg, 3 .json" in printed and str(out) in printed
    assert "annotations/instances_train.json" in printed
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert (manifest["task"], manifest["seed"], manifest["image_size"]) == ("det", 4, 48)
    # The command writes what the library writes for the same arguments.
    direct = generate_shapes(
        "det", tmp_path / "direct", seed=4, num_train=5, num_val=2, image_size=48
    )
    for path in out.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (direct / path.relative_to(out)).read_bytes()


def test_shapes_shows_progress_per_split(tmp_path, capsys):
    argv = ["shapes", "--task", "cls", "--out", str(tmp_path / "c"), "--num-train", "8",
            "--num-val", "8"]  # fmt: skip
    data.run(_parse(argv))
    printed = capsys.readouterr().out
    assert "shapes cls train" in printed and "shapes cls val" in printed
    assert "classes.txt" in printed and "meta/train.txt" in printed


def test_shapes_refuses_an_unknown_task_and_a_used_folder(tmp_path):
    with pytest.raises(SystemExit):
        _parse(["shapes", "--task", "depth", "--out", str(tmp_path)])
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    args = _parse(["shapes", "--task", "seg", "--out", str(tmp_path / "used"), "--quiet"])
    with pytest.raises(LabError, match="not empty"):
        data.run(args)


def test_lab_command_runs_data_shapes(tmp_path, capsys):
    out = tmp_path / "pose"
    argv = ["data", "shapes", "--task", "pose", "--out", str(out), "--num-train", "3",
            "--num-val", "1", "--quiet"]  # fmt: skip
    assert main.main(argv) == 0
    assert (out / "annotations" / "keypoints_train.json").is_file()
    assert main.main(argv) == 2  # the folder is now in use: one clear message
    assert "lab data: error: Output folder" in capsys.readouterr().err
