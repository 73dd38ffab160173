from types import SimpleNamespace

import mlflow
import numpy as np
import torch
from mmengine.structures import BaseDataElement, InstanceData
from mmengine.visualization import LocalVisBackend, Visualizer
from PIL import Image

from labcore.engine.mlflow_backend import LabMLflowVisBackend
from labdet.engine import DetVisualizationHook


def _run_hook(visualizer, shapes_det) -> None:
    """Two validation iterations of three predicted images through the hook (2 images)."""
    dataset = SimpleNamespace(metainfo={"classes": ("circle",) * 8})
    runner = SimpleNamespace(
        visualizer=visualizer, iter=7, val_dataloader=SimpleNamespace(dataset=dataset)
    )
    images = sorted((shapes_det / "val").glob("*.jpg"))[:3]
    outputs = []
    for i, path in enumerate(images):
        pred = InstanceData(
            bboxes=torch.tensor([[2.0, 3.0, 40.0, 50.0]]),
            scores=torch.tensor([0.9]),
            labels=torch.tensor([1]),
        )
        outputs.append(
            BaseDataElement(metainfo=dict(img_path=str(path), img_id=i), pred_instances=pred)
        )
    hook = DetVisualizationHook(num_images=2, score_thr=0.5)
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, None, outputs)
    hook.after_val_iter(runner, 1, None, outputs)  # already has its two images


def test_hook_hands_drawn_validation_images_to_the_visualizer(shapes_det, tmp_path):
    visualizer = Visualizer(
        name="det_hook_test", vis_backends=[dict(type=LocalVisBackend)], save_dir=str(tmp_path)
    )
    _run_hook(visualizer, shapes_det)
    saved = sorted(p.name for p in tmp_path.rglob("*.png"))
    assert saved == ["val_0_7.png", "val_1_7.png"]


def test_validation_images_reach_mlflow_as_png_artifacts(shapes_det, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    visualizer = Visualizer(
        name="det_hook_mlflow_test",
        vis_backends=[dict(type=LabMLflowVisBackend)],
        save_dir=str(tmp_path),
    )
    _run_hook(visualizer, shapes_det)
    backend = visualizer.get_backend("LabMLflowVisBackend")
    run_id, uri = backend.run_id, backend.tracking_uri
    visualizer.close()
    assert uri.startswith("sqlite:///")  # the backend's own store, not a shared one
    client = mlflow.MlflowClient(uri)
    names = sorted(a.path for a in client.list_artifacts(run_id, "images"))
    assert names == ["images/val_0_7.png", "images/val_1_7.png"]
    local = client.download_artifacts(run_id, "images/val_0_7.png", str(tmp_path / "dl"))
    drawn = np.asarray(Image.open(local))
    assert drawn.shape[:2] == (128, 128) and drawn.std() > 0
