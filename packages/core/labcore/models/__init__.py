"""OpenLab's shared models: building blocks, backbones and necks, registered in labcore's
MODELS; state-dict converters (:mod:`labcore.models.convert`) and complexity analysis
(:mod:`labcore.models.analysis`)."""

from labcore.models import backbones, layers, necks  # noqa: F401  (registers the models)
