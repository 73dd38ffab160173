"""RNGStateHook: random number generators saved in checkpoints and restored on resume."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook

from labcore.registry import HOOKS

CHECKPOINT_KEY = "rng_state"


def capture_rng_state() -> dict[str, Any]:
    """The states of python's ``random``, numpy's global generator, torch's CPU
    generator and, where CUDA is available, every CUDA generator.

    Everything is stored as python numbers, strings and tensors, so the state loads
    with ``torch.load(weights_only=True)`` without extra allowed classes.
    """
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set every generator captured by :func:`capture_rng_state` back to ``state``."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {
                "key": numpy_state["key"].numpy().astype(np.uint32),
                "pos": numpy_state["pos"],
            },
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Makes a resumed run continue the random streams of the run it resumes.

    - Every checkpoint holds the generator states at the moment it was saved
      (``checkpoint["rng_state"]``).
    - On resume the states are restored when training starts, after MMEngine has
      finished its own seeding, so dropout, random augmentation in the main process
      and the seeds of new DataLoader iterators follow the uninterrupted run.
    - Validation runs on a forked stream: the states are saved before it and restored
      after it. Creating a DataLoader iterator draws from torch's global generator, so
      without this a run that validates after a checkpoint would diverge from one that
      resumes from that checkpoint.

    Checkpoints are written by rank 0 only, so they hold rank 0's states. With
    MMEngine's default seeding every rank has the same seed and draws the same numbers,
    so every rank restores them. With ``randomness.diff_rank_seed=True`` the other
    ranks' streams are unknown and start from the seed again (a warning says so), as
    they do when the number of processes changed.
    """

    priority = "VERY_HIGH"

    def __init__(self) -> None:
        self._resumed_state: dict[str, Any] | None = None
        self._state_before_val: dict[str, Any] | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "world_size": get_world_size(),
            "diff_rank_seed": bool(_randomness(runner).get("diff_rank_seed", False)),
            "state": capture_rng_state(),
        }

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_state = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        saved, self._resumed_state = self._resumed_state, None
        if saved is None or not getattr(runner, "_resume", False):
            return  # a fresh run, or weights loaded with load_from for fine-tuning
        if saved["world_size"] != get_world_size():
            runner.logger.warning(
                f"The checkpoint holds the random states of a run with {saved['world_size']} "
                f"processes but this run has {get_world_size()}; random streams start from "
                f"the seed instead, so this run will not repeat the interrupted one exactly."
            )
            return
        if saved["diff_rank_seed"] and get_rank() != 0:
            runner.logger.warning(
                "randomness.diff_rank_seed=True: the checkpoint holds rank 0's random states "
                "only, so this rank's streams start from its seed again."
            )
            return
        restore_rng_state(saved["state"])
        loader = getattr(runner.train_loop, "dataloader", None)
        if getattr(loader, "persistent_workers", False) and loader.num_workers > 0:
            runner.logger.warning(
                "train_dataloader has persistent_workers=True: its workers start their "
                "random streams afresh after a resume, so random augmentation drawn in "
                "them differs from the interrupted run's. Set persistent_workers=False "
                "for an exact resume."
            )

    def before_val(self, runner) -> None:
        self._state_before_val = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._state_before_val is not None:
            restore_rng_state(self._state_before_val)
            self._state_before_val = None


def _randomness(runner) -> dict:
    return dict(getattr(runner, "_randomness_cfg", None) or {})
