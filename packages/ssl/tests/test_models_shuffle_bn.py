"""MoCo's shuffled BN: the key encoder sees its batch shuffled (across processes, or
across the parts of a SplitBN backbone in one), and the keys come back in their order."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from labssl.models.base import shuffle_batch, unshuffle_batch
from labssl.registry import MODELS


def moco(backbone: dict, shuffle_bn: bool = True):
    model = MODELS.build(
        dict(
            type="MoCoV2",
            backbone=backbone,
            neck=dict(type="MoCoV2Neck", in_channels=64, hid_channels=32, out_channels=16),
            head=dict(type="ContrastiveHead", temperature=0.2),
            queue_len=16,
            feat_dim=16,
            shuffle_bn=shuffle_bn,
        )
    )
    model.init_weights()
    return model.train()


def test_one_process_shuffles_and_restores_the_order():
    torch.manual_seed(0)
    x = torch.arange(8.0)[:, None] * torch.ones(8, 3)
    shuffled, restore = shuffle_batch(x)
    assert not torch.equal(shuffled, x) and sorted(shuffled[:, 0].tolist()) == x[:, 0].tolist()
    assert torch.equal(unshuffle_batch(shuffled * 2, restore), x * 2)


def test_keys_with_split_batchnorm_are_those_of_the_shuffled_batch(tiny_resnet, make_batch):
    backbone = dict(tiny_resnet, norm_cfg=dict(type="SplitBN", num_splits=4))
    model = moco(backbone)
    view = model.data_preprocessor(make_batch(batch=8), True)["inputs"][1]
    state = {k: v.clone() for k, v in model.momentum_encoder.state_dict().items()}
    torch.manual_seed(3)
    keys = model.encode_keys(view)
    # the reference: the same permutation drawn by hand, the plain key encoder on the
    # shuffled batch, and the outputs put back in place
    model.momentum_encoder.load_state_dict(state)
    torch.manual_seed(3)
    order = torch.randperm(8)
    expected = torch.empty_like(keys)
    expected[order] = model.momentum_encoder(view[order])
    torch.testing.assert_close(keys, expected)
    model.momentum_encoder.load_state_dict(state)
    unshuffled = model.momentum_encoder(view)  # each sample with other BatchNorm partners
    assert not torch.allclose(keys, unshuffled, atol=1e-4)


def test_with_whole_batch_batchnorm_the_shuffle_changes_nothing(tiny_resnet, make_batch):
    model = moco(tiny_resnet)
    view = model.data_preprocessor(make_batch(batch=8), True)["inputs"][1]
    state = {k: v.clone() for k, v in model.momentum_encoder.state_dict().items()}
    keys = model.encode_keys(view)
    model.momentum_encoder.load_state_dict(state)
    torch.testing.assert_close(keys, model.momentum_encoder(view), rtol=1e-4, atol=1e-5)


DIST_WORKER = textwrap.dedent(
    """
    import json, sys
    import torch, torch.distributed as dist
    from labssl.models.base import shuffle_batch, unshuffle_batch

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(rank)  # rank 0's permutation must win: the seeds differ on purpose
    x = torch.arange(6.0) + 100 * rank  # rank r holds 100r .. 100r + 5
    shuffled, restore = shuffle_batch(x)
    back = unshuffle_batch(shuffled * 10, restore)
    json.dump({"shuffled": shuffled.tolist(), "back": back.tolist()},
              open(f"{sys.argv[1]}.{rank}", "w"))
    dist.destroy_process_group()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.dist
def test_two_processes_exchange_samples_and_get_their_own_back(tmp_path):
    (tmp_path / "worker.py").write_text(DIST_WORKER)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
         str(tmp_path / "worker.py"), str(tmp_path / "out")],
        env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads((tmp_path / f"out.{rank}").read_text()) for rank in (0, 1)]
    together = sorted(results[0]["shuffled"] + results[1]["shuffled"])
    assert together == [float(v) for v in list(range(6)) + list(range(100, 106))]
    # one global permutation: each rank got a mix of both ranks' samples
    assert any(v >= 100 for v in results[0]["shuffled"])
    assert any(v < 100 for v in results[1]["shuffled"])
    for rank, result in enumerate(results):
        assert result["back"] == [10.0 * (v + 100 * rank) for v in range(6)]
