# OpenLab's runtime defaults: hooks, environment, logging to MLflow, randomness.
# Codebase runtime bases start with `_base_ = ['labcore::_base_/default_runtime.py']`
# and set their own `default_scope`.

default_scope = "labcore"

default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)

# RNGStateHook saves and restores the random number generators with every checkpoint
# and keeps validation from drawing on the training stream; NonFiniteLossHook stops a
# run at the first NaN or infinite loss and names the iteration.
custom_hooks = [
    dict(type="RNGStateHook"),
    dict(type="NonFiniteLossHook"),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    # "auto" is chosen at run time: nccl where CUDA is available, gloo otherwise.
    dist_cfg=dict(backend="auto"),
)

# MLflow tracking URI: $MLFLOW_TRACKING_URI, else sqlite:///<work_dir>/mlflow.db.
# Turn MLflow off with `--cfg-options mlflow=False` (LocalVisBackend stays).
mlflow = True
vis_backends = [
    dict(type="LocalVisBackend"),
    dict(type="LabMLflowVisBackend", exp_name="openlab"),
]
# No fixed name: each runner's visualizer is named after its experiment.
visualizer = dict(type="Visualizer", vis_backends=vis_backends)

log_processor = dict(type="LogProcessor", window_size=50, by_epoch=True)
log_level = "INFO"
load_from = None
resume = False

randomness = dict(seed=0, deterministic=False)
