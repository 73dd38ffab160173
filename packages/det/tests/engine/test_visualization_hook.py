from types import SimpleNamespace

import torch
from mmengine.structures import BaseDataElement, InstanceData
from mmengine.visualization import LocalVisBackend, Visualizer

from labdet.engine import DetVisualizationHook


def test_hook_hands_drawn_validation_images_to_the_visualizer(shapes_det, tmp_path):
    visualizer = Visualizer(
        name="det_hook_test", vis_backends=[dict(type=LocalVisBackend)], save_dir=str(tmp_path)
    )
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
    saved = sorted(p.name for p in tmp_path.rglob("*.png"))
    assert saved == ["val_0_7.png", "val_1_7.png"]
