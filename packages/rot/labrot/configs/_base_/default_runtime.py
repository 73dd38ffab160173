# labrot's runtime defaults: labcore's, in the labrot registry scope.
_base_ = ["labcore::_base_/default_runtime.py"]

default_scope = "labrot"
