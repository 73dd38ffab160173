"""LARS steps against the update written out by hand."""

import torch

from labcore.engine.optimizers import LARS


def test_lars_matches_the_trust_ratio_update():
    torch.manual_seed(0)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    lr, momentum, wd, eta = 0.5, 0.9, 1e-2, 0.001
    opt = LARS(
        [dict(params=[w]), dict(params=[b], lars_exclude=True, weight_decay=0.0)],
        lr=lr,
        momentum=momentum,
        weight_decay=wd,
        eta=eta,
    )
    ref_w, ref_b = w.detach().clone(), b.detach().clone()
    buf_w = buf_b = None
    for step in range(3):
        opt.zero_grad()
        loss = ((torch.sin(w) @ b) ** 2).sum() * (step + 1)
        loss.backward()
        g_w, g_b = w.grad.clone(), b.grad.clone()
        trust = eta * ref_w.norm() / (g_w.norm() + wd * ref_w.norm())
        d_w = (g_w + wd * ref_w) * trust * lr
        d_b = g_b * lr  # excluded: no trust ratio, no decay
        buf_w = d_w if buf_w is None else momentum * buf_w + d_w
        buf_b = d_b if buf_b is None else momentum * buf_b + d_b
        ref_w, ref_b = ref_w - buf_w, ref_b - buf_b
        opt.step()
        torch.testing.assert_close(w.detach(), ref_w, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(b.detach(), ref_b, rtol=1e-12, atol=1e-12)


def test_lars_is_registered_for_configs():
    from mmengine.registry import OPTIMIZERS

    import labcore.engine  # noqa: F401

    opt = OPTIMIZERS.build(
        dict(type="labcore.LARS", params=[torch.zeros(2, requires_grad=True)], lr=0.1)
    )
    assert isinstance(opt, LARS)
