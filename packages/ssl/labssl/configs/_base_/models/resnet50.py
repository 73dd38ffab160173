# ResNet-50 as self-supervised methods pretrain it: the last stage's map, no head.
backbone = dict(type="ResNet", depth=50, out_indices=(3,), zero_init_residual=False)
