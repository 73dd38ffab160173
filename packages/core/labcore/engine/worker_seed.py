"""Seeding of DataLoader workers: fresh random streams every epoch, on every rank, that a
resumed run repeats.

MMEngine's default ``worker_init_fn`` seeds worker ``i`` of rank ``r`` with
``seed + num_workers * r + i`` each time workers start. Without persistent workers they
start every epoch, so every epoch draws the same random augmentation as the first.
:func:`seed_worker` keeps torch's own per-worker seed instead: a base seed drawn from the
main process's generator each time the loader's iterator is made (so it is new every
epoch, follows ``randomness.seed``, and is repeated after ``--resume`` because
``RNGStateHook`` restores that generator), mixed with the rank so ranks draw differently.

With ``persistent_workers=True`` the workers keep their streams across epochs; a resumed
run starts them afresh, so its random augmentation differs from the interrupted run's
(:class:`labcore.engine.hooks.RNGStateHook` warns). Exact resume needs
``persistent_workers=False`` when workers draw random numbers.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.dist import get_rank

from labcore.registry import FUNCTIONS


@FUNCTIONS.register_module()
def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for OpenLab's dataloaders (set by ``build_runner``): seeds
    ``random``, ``numpy`` and ``torch`` in data-loader worker ``worker_id`` from torch's
    per-iterator worker seed and the process's rank."""
    info = torch.utils.data.get_worker_info()
    base = info.seed if info is not None else torch.initial_seed()
    sequence = np.random.SeedSequence([base, get_rank(), worker_id])
    seed_32, seed_64 = sequence.generate_state(1)[0], sequence.generate_state(2, np.uint64)[1]
    np.random.seed(int(seed_32))
    random.seed(int(seed_64))
    torch.manual_seed(int(seed_64))
