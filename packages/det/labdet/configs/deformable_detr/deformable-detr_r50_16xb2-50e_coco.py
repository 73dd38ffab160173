_base_ = [
    "../_base_/models/deformable-detr_r50.py",
    "../_base_/datasets/coco_detection_detr.py",
    "../_base_/default_runtime.py",
]

# Deformable DETR's schedule (MMDetection's): 50 epochs, AdamW lr 2e-4 for a total batch
# of 32 (16 x 2), weight decay 1e-4, lr x0.1 for the backbone and for the layers that
# place the sampling points (sampling_offsets, reference_points), gradient norm clipped
# at 0.1, lr x0.1 after epoch 40.
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=50, val_interval=1)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

param_scheduler = [
    dict(type="MultiStepLR", begin=0, end=50, by_epoch=True, milestones=[40], gamma=0.1),
]

optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.0002, weight_decay=0.0001),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            "backbone": dict(lr_mult=0.1),
            "sampling_offsets": dict(lr_mult=0.1),
            "reference_points": dict(lr_mult=0.1),
        }
    ),
)

auto_scale_lr = dict(enable=False, base_batch_size=32)
