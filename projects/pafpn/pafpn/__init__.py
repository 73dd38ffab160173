"""PAFPN for labdet: a project that plugs a new neck into labdet without changing it.

Configs name this module in ``custom_imports``, which registers :class:`PAFPN` in
labdet's MODELS registry when the config is loaded.
"""

from projects.pafpn.pafpn.pafpn import PAFPN

__all__ = ["PAFPN"]
