"""labssl's engine pieces: the momentum-update hook and the k-NN evaluation loops."""

from labssl.engine.hooks import MomentumUpdateHook, momentum_at
from labssl.engine.loops import KNNTestLoop, KNNValLoop, embed_bank

__all__ = ["KNNTestLoop", "KNNValLoop", "MomentumUpdateHook", "embed_bank", "momentum_at"]
