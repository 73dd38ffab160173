# labpose's runtime defaults: labcore's, in the labpose registry scope.
_base_ = ["labcore::_base_/default_runtime.py"]

default_scope = "labpose"

# Keep the checkpoint of the best COCO keypoint AP besides the latest ones.
default_hooks = dict(
    checkpoint=dict(
        type="CheckpointHook",
        interval=10,
        max_keep_ckpts=3,
        save_best="coco/keypoints_mAP",
        rule="greater",
    ),
)
