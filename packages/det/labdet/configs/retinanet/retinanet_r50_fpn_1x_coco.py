_base_ = [
    "../_base_/models/retinanet_r50_fpn.py",
    "../_base_/datasets/coco_detection.py",
    "../_base_/schedules/schedule_1x.py",
    "../_base_/default_runtime.py",
]

# RetinaNet trains with a lower learning rate than the R-CNNs (0.01 for 16 images).
optim_wrapper = dict(optimizer=dict(lr=0.01))
