# labssl runtime: labcore's defaults (hooks, MLflow, randomness) in the labssl scope.
_base_ = ["labcore::_base_/default_runtime.py"]

default_scope = "labssl"

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=100),
    checkpoint=dict(type="CheckpointHook", interval=10, max_keep_ckpts=3),
)
