# The quarter-width ResNet-18 of labcls's shapes configs (16 stem channels, stages
# 16..128; only the last stage downsamples after the stem, so 32x32 images keep 8x8 maps
# until stage 4): the backbone that the tiny configs pretrain and probe.
backbone = dict(type="ResNet", depth=18, stem_channels=16, base_channels=16, strides=(1, 1, 1, 2))
