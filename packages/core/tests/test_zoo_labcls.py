"""A labcls tiny config through the whole zoo: train briefly on the synthetic shapes set,
publish, then evaluate the published model again two ways (``zoo.init_model`` and a
config with ``load_from='zoo://NAME'``): both give the metric the manifest records."""

from __future__ import annotations

import pytest

labcls = pytest.importorskip("labcls")

from mmengine.runner import Runner  # noqa: E402

from labcore import zoo  # noqa: E402
from labcore.engine.config import load_config  # noqa: E402
from labcore.engine.training import build_runner  # noqa: E402

CONFIG = "labcls::resnet/resnet18_tiny_shapes.py"
METRIC = "accuracy/top1"


def tiny_config(data_root, work_dir):
    """The tiny config on 96 training and 32 validation images, one epoch."""
    cfg = load_config(CONFIG)
    shapes = dict(seed=0, version=1, num_train=96, num_val=32, image_size=32)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader]["dataset"].update(generate=shapes, data_root=str(data_root))
    cfg.train_dataloader.batch_size = 32
    cfg.val_evaluator = cfg.test_evaluator = [dict(type="Accuracy", topk=(1,))]
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.mlflow = False
    cfg.work_dir = str(work_dir)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=1)
    return cfg


@pytest.mark.slow
def test_labcls_tiny_model_published_and_evaluated_again(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", str(tmp_path / "manifests"))
    monkeypatch.delenv("OPENLAB_ZOO_MIRRORS", raising=False)
    cfg = tiny_config(tmp_path / "data", tmp_path / "train")
    runner = build_runner(cfg)
    runner.train()
    trained = runner.message_hub.get_scalar(f"val/{METRIC}").current()

    (entry,) = zoo.publish_runs(
        [
            zoo.ZooRun(
                name="resnet18_tiny_shapes",
                codebase="labcls",
                config=CONFIG,
                protocol="cls-shapes-tiny",
                protocol_version=1,
                checkpoint=tmp_path / "train" / "epoch_1.pth",
                metrics_mean={METRIC: trained},
                metrics_std={METRIC: 0.0},
                seed=0,
                task="image-classification",
            )
        ],
        tmp_path / "zoo",
        manifest_dir=tmp_path / "manifests",
    )
    assert entry.config == CONFIG and entry.metrics[METRIC].published == trained

    model = zoo.init_model("resnet18_tiny_shapes")
    evaluator = Runner(
        model=model,
        work_dir=str(tmp_path / "eval"),
        val_dataloader=cfg.val_dataloader,
        val_evaluator=cfg.val_evaluator,
        val_cfg=dict(),
        default_scope="labcls",
        experiment_name="zoo_labcls_eval",
    )
    assert evaluator.val()[METRIC] == pytest.approx(entry.metrics[METRIC].published, abs=1e-9)

    cfg = tiny_config(tmp_path / "data", tmp_path / "test")
    cfg.load_from = "zoo://resnet18_tiny_shapes"
    assert build_runner(cfg).test()[METRIC] == pytest.approx(trained, abs=1e-9)
