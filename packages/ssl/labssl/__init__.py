"""labssl: self-supervised pretraining on labcore's backbones, evaluated by linear probe
and k-NN on frozen features (built on labcls for the probe's classifier and datasets)."""
