# labseg's runtime defaults: labcore's, in the labseg registry scope, counted in iterations.
_base_ = ["labcore::_base_/default_runtime.py"]

default_scope = "labseg"

log_processor = dict(by_epoch=False)
