# labcls runtime: labcore's defaults (hooks, MLflow, randomness) in the labcls scope.
_base_ = ["labcore::_base_/default_runtime.py"]

default_scope = "labcls"

default_hooks = dict(
    logger=dict(type="LoggerHook", interval=100),
    checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=3, save_best="auto"),
)
