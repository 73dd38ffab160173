from labcore.models.necks.cspnext_pafpn import CSPNeXtPAFPN  # noqa: F401
from labcore.models.necks.fpn import FPN  # noqa: F401
from labcore.models.necks.gap import GlobalAveragePooling  # noqa: F401
