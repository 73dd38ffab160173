"""The momentum encoder after every optimizer step equals
``m_t * previous + (1 - m_t) * online`` with m_t from the hook's schedule, in a real
MMEngine runner."""

import math

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from labssl.engine import MomentumUpdateHook, momentum_at
from labssl.registry import MODELS


class MultiViewSamples(torch.utils.data.Dataset):
    def __init__(self, make_batch, count=8):
        batch = make_batch(batch=count)
        self.items = [
            dict(
                inputs=[view[i] for view in batch["inputs"]], data_samples=batch["data_samples"][i]
            )
            for i in range(count)
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


class RecordWeights(Hook):
    """After the momentum hook: the online and momentum weights of every step."""

    priority = "LOWEST"

    def __init__(self, online, target):
        self.online, self.target = online, target
        self.before, self.after, self.steps = [], [], []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.before.append(self.target(runner.model))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.after.append((self.online(runner.model), self.target(runner.model)))
        self.steps.append(runner.iter)


def flat(module):
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


METHODS = {
    "MoCoV2": (
        dict(
            type="MoCoV2",
            neck=dict(type="MoCoV2Neck", in_channels=64, hid_channels=32, out_channels=16),
            head=dict(type="ContrastiveHead", temperature=0.2),
            queue_len=32,
            feat_dim=16,
            base_momentum=0.9,
        ),
        "constant",
        lambda m: m.momentum_encoder.module,
    ),
    "BYOL": (
        dict(
            type="BYOL",
            neck=dict(
                type="NonLinearNeck",
                in_channels=64,
                hid_channels=32,
                out_channels=16,
                with_last_bn=False,
            ),
            head=dict(
                type="LatentPredictHead",
                predictor=dict(
                    type="NonLinearNeck",
                    in_channels=16,
                    hid_channels=32,
                    out_channels=16,
                    with_last_bn=False,
                    with_avg_pool=False,
                ),
            ),
            base_momentum=0.8,
        ),
        "cosine",
        lambda m: m.target.module,
    ),
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_momentum_weights_follow_the_formula_after_each_step(
    method, tmp_path, tiny_resnet, make_batch
):
    cfg, schedule, target_of = METHODS[method]
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, backbone=tiny_resnet))
    recorder = RecordWeights(
        online=lambda m: flat(torch.nn.Sequential(m.backbone, m.neck)),
        target=lambda m: flat(target_of(m)),
    )
    max_iters = 4
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(
            MultiViewSamples(make_batch), batch_size=4, collate_fn=pseudo_collate
        ),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.5, momentum=0.9)),
        custom_hooks=[MomentumUpdateHook(schedule=schedule), recorder],
        default_hooks=dict(checkpoint=None, logger=None),
        default_scope="labssl",
    )
    runner.train()
    # the momentum encoder started as a copy of the online one, which the first step moved
    assert not torch.equal(recorder.before[0], recorder.after[0][0])
    for step in range(max_iters):
        m = momentum_at(model.base_momentum, recorder.steps[step], max_iters, schedule=schedule)
        online, target = recorder.after[step]
        expected = m * recorder.before[step] + (1 - m) * online
        torch.testing.assert_close(target, expected, rtol=1e-6, atol=1e-7)
        assert not torch.equal(target, online)


def test_momentum_schedules():
    assert momentum_at(0.99, 5, 10, schedule="constant") == 0.99
    assert momentum_at(0.99, 0, 10, schedule="cosine") == pytest.approx(0.99)
    assert momentum_at(0.99, 10, 10, schedule="cosine") == pytest.approx(1.0)
    half = 1 - (1 - 0.99) * (math.cos(math.pi * 0.5) + 1) / 2
    assert momentum_at(0.99, 5, 10, schedule="cosine") == pytest.approx(half)


def test_the_hook_refuses_a_model_without_a_momentum_encoder(tmp_path, tiny_resnet, make_batch):
    from labcore.errors import ConfigError

    model = MODELS.build(
        dict(
            type="SimCLR",
            backbone=tiny_resnet,
            neck=dict(type="NonLinearNeck", in_channels=64, hid_channels=32, out_channels=16),
            head=dict(type="ContrastiveHead", temperature=0.1),
        )
    )
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(
            MultiViewSamples(make_batch), batch_size=4, collate_fn=pseudo_collate
        ),
        train_cfg=dict(by_epoch=False, max_iters=1),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        custom_hooks=[MomentumUpdateHook()],
        default_hooks=dict(checkpoint=None, logger=None),
        default_scope="labssl",
    )
    with pytest.raises(ConfigError, match="no momentum encoder"):
        runner.train()
