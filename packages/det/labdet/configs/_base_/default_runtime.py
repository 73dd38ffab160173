# labdet's runtime defaults: labcore's, in the labdet registry scope.
_base_ = ["labcore::_base_/default_runtime.py"]

default_scope = "labdet"

# A few validation images with their detections go to the visualizer's backends.
default_hooks = dict(visualization=dict(type="DetVisualizationHook", num_images=4, score_thr=0.3))
