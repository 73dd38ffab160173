"""labcore.engine.mlflow_backend: MLflow 3 tracking with and without a runner config."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mmengine.visualization import MLflowVisBackend

from labcore.engine.mlflow_backend import (
    MAX_PARAM_VALUE_LENGTH,
    LabMLflowVisBackend,
    default_tracking_uri,
    flatten_params,
)
from labcore.registry import VISBACKENDS


@pytest.fixture(autouse=True)
def _no_tracking_env(monkeypatch, tmp_path):
    # tmp_path requested so that it outlives the teardown below, which ends a run left
    # open by MMEngine's backend in a store under tmp_path
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


def test_mmengine_backend_refuses_the_mlflow3_file_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # MMEngine's backend exports its file store as MLFLOW_TRACKING_URI: undo that afterwards
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "restored-after-the-test")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    backend = MLflowVisBackend(str(tmp_path / "vis"))
    with pytest.raises(MlflowException, match="filesystem tracking backend"):
        backend.add_scalars({"loss": 1.0}, step=1)


def test_default_tracking_uri_is_sqlite_in_the_work_dir(tmp_path, monkeypatch):
    assert default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert default_tracking_uri(tmp_path) == "http://tracking:5000"


def test_flatten_params_respects_mlflow_limits():
    params = flatten_params(
        {"model": {"type": "M", "layers": [1, 2]}, "long": "x" * 7000, "k" * 300: 1}
    )
    assert params["model.type"] == "M" and params["model.layers.1"] == "2"
    assert len(params["long"]) == MAX_PARAM_VALUE_LENGTH
    assert not any(len(k) > 250 for k in params)


def test_training_run_and_a_run_without_config_are_tracked(tmp_path, monkeypatch):
    """build_runner's default store sqlite:///<work_dir>/mlflow.db gets params,
    per-iteration loss and lr, validation metrics, the resolved config and the log files;
    a Runner built without a Config is tracked and closes cleanly too. One sqlite store,
    since creating one takes seconds."""
    import logging

    from labcore.engine.training import build_runner, close_failed_run
    from labcore.errors import NonFiniteLossError

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import lab_engine_toy

    config = tmp_path / "toy.py"
    config.write_text(lab_engine_toy.toy_config_text(max_length=1, mlflow=True))
    work_dir = tmp_path / "work"
    runner = build_runner(config, work_dir=work_dir)
    runner.logger.setLevel(logging.WARNING)
    runner.train()

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{work_dir.resolve()}/mlflow.db")
    (experiment,) = [e for e in client.search_experiments() if e.name == "openlab"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.type"] == "ToyDropoutNet"
    assert run.data.params["train_cfg.max_epochs"] == "1"
    losses = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in losses] == [1, 2, 3, 4]  # 4 iterations, logger interval 1
    assert [m.step for m in client.get_metric_history(run.info.run_id, "lr")] == [1, 2, 3, 4]
    assert run.data.metrics["mse"] > 0  # the validation metric of the toy metric
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "config.py" in artifacts
    assert any(not path.endswith(".py") for path in artifacts)  # the run's log folder

    # A Runner built from arguments, without a Config: MMEngine's backend crashes in
    # close() (it reads cfg.work_dir, and such a runner never calls add_config); ours
    # ends the run cleanly.
    with pytest.raises(AttributeError, match="cfg"):
        _train_runner_without_config(tmp_path / "mmengine", MLflowVisBackend, client)
    assert VISBACKENDS.get("LabMLflowVisBackend") is LabMLflowVisBackend
    bare = _train_runner_without_config(tmp_path / "bare", "LabMLflowVisBackend", client)
    bare_run = client.get_run(bare.run_id)
    assert bare_run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(bare.run_id, "loss")] == [1, 2, 3, 4]

    # MLFLOW_TRACKING_URI wins over the work dir; a run stopped by an error is FAILED
    monkeypatch.setenv("MLFLOW_TRACKING_URI", client.tracking_uri)
    config.write_text(lab_engine_toy.toy_config_text(max_length=1, mlflow=True, nan_from=0))
    runner = build_runner(config, work_dir=tmp_path / "nan")
    runner.logger.setLevel(logging.WARNING)
    with pytest.raises(NonFiniteLossError):
        runner.train()
    close_failed_run(runner)
    assert not (tmp_path / "nan" / "mlflow.db").exists()
    (failed,) = client.search_runs([experiment.experiment_id], "attributes.status = 'FAILED'")
    assert failed.data.params["train_dataloader.dataset.nan_from"] == "0"


def _train_runner_without_config(work_dir: Path, backend, client: mlflow.MlflowClient):
    """Train the toy model for one epoch with a Runner built from arguments (no Config),
    logging to ``backend`` (a registered name or a class); close the visualizer and
    return the backend."""
    import logging

    import lab_engine_toy
    from mmengine.runner import Runner

    runner = Runner(
        model=lab_engine_toy.ToyDropoutNet(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=8,
            dataset=lab_engine_toy.ToyRegressionDataset(),
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
        ),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_hooks=dict(logger=dict(type="LoggerHook", interval=1)),
        visualizer=dict(
            type="Visualizer",
            name=f"visualizer-{getattr(backend, '__name__', backend)}",
            vis_backends=[
                dict(type=backend, save_dir=str(work_dir / "vis"), tracking_uri=client.tracking_uri)
            ],
        ),
        default_scope="labcore",
    )
    runner.logger.setLevel(logging.WARNING)
    runner.train()
    runner.visualizer.close()
    return runner.visualizer.get_backend(getattr(backend, "__name__", backend))


def test_a_run_leaves_the_tracking_uri_as_it_was(tmp_path, monkeypatch):
    """The backend must not leave the first run's store as the process-wide tracking URI
    (mlflow.set_tracking_uri, which also exports MLFLOW_TRACKING_URI): a later run, or a
    zoo publish to MLflow, in the same process would go to that store."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset-by-the-test")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    before = mlflow.get_tracking_uri()
    backend = LabMLflowVisBackend(save_dir=str(tmp_path / "vis"))
    backend.add_scalars({"loss": 1.0}, step=1)
    backend.close()
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert mlflow.get_tracking_uri() == before
    assert (
        default_tracking_uri(tmp_path / "other")
        == f"sqlite:///{(tmp_path / 'other').resolve()}/mlflow.db"
    )


def test_images_are_logged_as_png_artifacts(tmp_path, monkeypatch):
    """MMEngine's backend hands the bare name to mlflow.log_image, which MLflow 3 refuses
    ('unknown file extension'); a metric's plot must reach the run as a PNG."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset-by-the-test")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    backend = LabMLflowVisBackend(save_dir=str(tmp_path / "vis"))
    backend.add_image("confusion_matrix", np.zeros((8, 8, 3), dtype=np.uint8), step=3)
    run_id = backend.run_id
    backend.close()
    client = mlflow.MlflowClient(default_tracking_uri(tmp_path / "vis"))
    names = [a.path for a in client.list_artifacts(run_id, "images")]
    assert names == ["images/confusion_matrix_3.png"]


def test_mmengine_backend_name_builds_the_fixed_backend(tmp_path):
    """A config naming MMEngine's `MLflowVisBackend` gets the backend that works with
    MLflow 3, in the root registry and in labcore's scope alike."""
    from mmengine.registry import VISBACKENDS as MM_VISBACKENDS

    from labcore.engine import compat

    assert compat.ORIGINALS["VISBACKENDS:MLflowVisBackend"] is MLflowVisBackend
    for registry in (MM_VISBACKENDS, VISBACKENDS):
        backend = registry.build(dict(type="MLflowVisBackend", save_dir=str(tmp_path / "vis")))
        assert isinstance(backend, LabMLflowVisBackend)


def test_the_training_process_never_imports_mlflow(tmp_path):
    """Importing MLflow and opening a store take seconds of one core: they happen in the
    backend's sender process, beside training, so the training process (a fresh one here,
    since this one has MLflow loaded) never loads MLflow and its run still arrives whole,
    with a refused record (a changed param) skipped with a warning instead of stopping
    training."""
    import subprocess
    import sys

    tests = Path(__file__).parent
    work_dir = tmp_path / "work"
    script = f"""
import logging, sys
sys.path.insert(0, {str(tests)!r})
import lab_engine_toy
from pathlib import Path
from labcore.engine.training import build_runner
config = Path({str(tmp_path / "toy.py")!r})
config.write_text(lab_engine_toy.toy_config_text(max_length=1, mlflow=True))
runner = build_runner(config, work_dir={str(work_dir)!r})
runner.logger.setLevel(logging.WARNING)
backend = runner.visualizer.get_backend("LabMLflowVisBackend")
backend._submit(dict(op="params", params={{"model.type": "Changed"}}))
runner.train()
print("mlflow loaded:", "mlflow" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mlflow loaded: False" in done.stdout
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{work_dir.resolve()}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("openlab").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["model.type"] == "ToyDropoutNet"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2, 3, 4]
    log = next(work_dir.rglob("*.log")).read_text()
    assert "MLflow refused a params record and it was skipped" in log
