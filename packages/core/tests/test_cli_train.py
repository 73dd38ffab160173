"""``lab train`` and ``lab test``: end to end in a subprocess, and every bad input a
user can give answered by one clear message with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labcore.cli.main import main

TESTS_DIR = Path(__file__).parent


@pytest.fixture
def toy_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    import lab_engine_toy

    def write(name="toy", **kwargs) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(lab_engine_toy.toy_config_text(**kwargs))
        return path

    return write


def _lab(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "labcore.cli.main", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_train_then_test_through_the_command_line(toy_config, tmp_path):
    config = toy_config(max_length=2)
    work_dir = tmp_path / "work"
    train = _lab("train", str(config), "--work-dir", str(work_dir), "--no-mlflow", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    assert (work_dir / "epoch_2.pth").is_file()
    assert (work_dir / "last_checkpoint").read_text().strip().endswith("epoch_2.pth")

    out = tmp_path / "metrics.json"
    test = _lab(
        "test", str(config), str(work_dir / "epoch_2.pth"), "--work-dir", str(work_dir),
        "--no-mlflow", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert test.returncode == 0, test.stderr[-3000:]
    metrics = json.loads(test.stdout.strip().splitlines()[-1])
    assert metrics == json.loads(out.read_text())

    # reference: the same MSE computed in plain torch from the saved weights
    import lab_engine_toy

    state = torch.load(work_dir / "epoch_2.pth", weights_only=False)["state_dict"]
    model = lab_engine_toy.ToyDropoutNet()
    model.load_state_dict(state)
    model.eval()
    data = lab_engine_toy.ToyRegressionDataset(num_samples=16, seed=2)
    with torch.no_grad():
        per_sample = ((model(data.inputs) - data.targets) ** 2).mean(dim=1)
    assert metrics["mse"] == pytest.approx(per_sample.mean().item(), rel=1e-5)


def test_lab_test_refuses_a_checkpoint_of_another_model(toy_config, tmp_path, capsys):
    config = toy_config(max_length=1)
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3, 3)}}, other)
    argv = ["test", str(config), str(other), "--work-dir", str(tmp_path / "w"), "--no-mlflow"]
    status, err = _run_main(argv, capsys)
    assert status == 2
    assert "unexpected keys (1): encoder.weight" in err and "missing keys" in err
    assert "--allow-partial" in err
    status, err = _run_main([*argv, "--allow-partial"], capsys)
    assert status == 0, err


def _run_main(argv, capsys) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().err


def test_missing_config_names_close_matches(capsys):
    status, err = _run_main(["train", "labcore::_base_/default_runtim.py"], capsys)
    assert status == 2
    assert "labcore::_base_/default_runtime.py" in err and "Traceback" not in err
    status, err = _run_main(["train", "no/such/config.py"], capsys)
    assert status == 2 and "no/such/config.py" in err


def test_unknown_type_names_close_matches_and_registries(toy_config, tmp_path, capsys):
    config = toy_config()
    config.write_text(config.read_text().replace("type='ToyDropoutNet'", "type='ToyDropotNet'"))
    status, err = _run_main(["train", str(config), "--work-dir", str(tmp_path / "w")], capsys)
    assert status == 2
    assert "ToyDropotNet" in err and "ToyDropoutNet" in err and "labcore::model" in err
    assert "labcore.ToyDropoutNet" not in err  # the registry searched is not listed twice


def test_argument_the_type_does_not_accept_names_the_type_and_close_matches(
    toy_config, tmp_path, capsys
):
    config = str(toy_config())
    argv = ["train", config, "--work-dir", str(tmp_path / "w"), "--no-mlflow"]
    status, err = _run_main([*argv, "--cfg-options", "+model.dropuot=0.1"], capsys)
    assert status == 2 and "Traceback" not in err
    assert "'ToyDropoutNet'" in err and "'dropuot'" in err and "Did you mean: dropout?" in err
    # a dataset built lazily, when training starts, is explained the same way
    status, err = _run_main(
        [*argv, "--cfg-options", "+train_dataloader.dataset.num_sample=4"], capsys
    )
    assert status == 2
    assert "'ToyRegressionDataset'" in err and "Did you mean: num_samples?" in err


def test_cfg_options_item_without_equals_sign_is_refused(toy_config, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(toy_config()), "--cfg-options", "model"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'model' is not KEY=VALUE" in err and "Traceback" not in err


def test_cfg_options_take_dict_values_and_name_a_bad_one(capsys):
    import argparse

    from labcore.cli.train import add_cfg_options_argument

    parser = argparse.ArgumentParser(prog="lab train", exit_on_error=False)
    add_cfg_options_argument(parser, "x=1")
    args = parser.parse_args(
        ["--cfg-options", "+model.norm_cfg={'type': 'SplitBN', 'num_splits': 4}", "a.b=[1,2]"]
    )
    assert args.cfg_options == {
        "+model.norm_cfg": {"type": "SplitBN", "num_splits": 4},
        "a.b": [1, 2],
    }
    with pytest.raises(argparse.ArgumentError, match="not a Python dict literal"):
        parser.parse_args(["--cfg-options", "model.norm_cfg={'type': BN}"])


def test_unknown_cfg_options_key_is_refused_unless_added_with_plus(toy_config, tmp_path, capsys):
    config = str(toy_config())
    status, err = _run_main(
        ["train", config, "--cfg-options", "train_cfg.max_epoch=3", "--no-mlflow"], capsys
    )
    assert status == 2
    assert "train_cfg.max_epoch" in err and "max_epochs" in err and "+train_cfg.max_epoch" in err


def test_corrupt_checkpoint_is_named(toy_config, tmp_path, capsys):
    config = str(toy_config())
    bad = tmp_path / "epoch_9.pth"
    bad.write_bytes(b"this is not a checkpoint")
    status, err = _run_main(
        ["test", config, str(bad), "--work-dir", str(tmp_path / "w"), "--no-mlflow"], capsys
    )
    assert status == 2
    assert str(bad) in err and "not a readable torch checkpoint" in err
    assert "weights_only" not in err  # never advises loading it unrestricted
    status, err = _run_main(["test", config, str(tmp_path / "missing.pth")], capsys)
    assert status == 2 and "missing.pth" in err and "does not exist" in err


def test_nan_loss_stops_with_the_iteration_and_keeps_the_work_dir(toy_config, tmp_path, capsys):
    # targets from sample 0 on are NaN, so the first iteration's loss is NaN
    config = str(toy_config(nan_from=0))
    work_dir = tmp_path / "w"
    work_dir.mkdir()
    (work_dir / "epoch_1.pth").write_bytes(b"earlier checkpoint")
    status, err = _run_main(["train", config, "--work-dir", str(work_dir), "--no-mlflow"], capsys)
    assert status == 2
    assert "Non-finite loss at iteration 1" in err and "Traceback" not in err
    assert (work_dir / "epoch_1.pth").read_bytes() == b"earlier checkpoint"
    assert list(work_dir.glob("*/*.log"))  # the run's log is kept


def test_process_killed_after_a_checkpoint_resumes_to_the_uninterrupted_weights(
    toy_config, tmp_path
):
    """A real kill (SIGKILL right after the epoch-2 checkpoint), with dropout and random
    noise drawn in 2 data-loader workers, then ``lab train --resume``: the weights and
    optimizer state at the end equal those of an uninterrupted run."""
    from labcore.engine.checkpoint import load_checkpoint_file

    settings = dict(max_length=4, num_workers=2, augment_noise=0.1)
    config = toy_config(**settings)
    killing = toy_config("toy_killed", kill_after_epoch=2, **settings)
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    run = _lab("train", str(config), "--work-dir", str(straight), "--no-mlflow", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    run = _lab("train", str(killing), "--work-dir", str(interrupted), "--no-mlflow", cwd=tmp_path)
    assert run.returncode == -9  # SIGKILL
    assert (interrupted / "epoch_2.pth").is_file() and not (interrupted / "epoch_3.pth").exists()
    run = _lab(
        "train", str(config), "--work-dir", str(interrupted), "--no-mlflow", "--resume",
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]

    expected = load_checkpoint_file(straight / "epoch_4.pth")
    resumed = load_checkpoint_file(interrupted / "epoch_4.pth")
    for key, value in expected["state_dict"].items():
        assert torch.equal(resumed["state_dict"][key], value), key
    for index, state in expected["optimizer"]["state"].items():
        assert torch.equal(resumed["optimizer"]["state"][index]["momentum_buffer"],
                           state["momentum_buffer"])  # fmt: skip
