# imagenet_bs1024_adamw_swin.py for a total batch of 4096 (32 GPUs x 128 images): lr 4e-3.
_base_ = ["imagenet_bs1024_adamw_swin.py"]

optim_wrapper = dict(optimizer=dict(lr=4e-3))
auto_scale_lr = dict(base_batch_size=4096)
