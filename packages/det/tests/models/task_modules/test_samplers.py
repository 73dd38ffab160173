import torch

from labdet.models.task_modules import RandomSampler


def test_sampler_respects_size_and_positive_fraction():
    matched = torch.full((1000,), -1)
    matched[:300] = 3
    matched[300:320] = -2
    torch.manual_seed(0)
    pos, neg = RandomSampler(num=256, pos_fraction=0.25).sample(matched)
    assert len(pos) == 64 and len(neg) == 192
    assert (matched[pos] >= 0).all() and (matched[neg] == -1).all()
    assert len(set(pos.tolist())) == 64


def test_sampler_fills_with_negatives_when_positives_are_few():
    matched = torch.full((500,), -1)
    matched[:5] = 0
    pos, neg = RandomSampler(num=128, pos_fraction=0.5).sample(matched)
    assert len(pos) == 5 and len(neg) == 123
