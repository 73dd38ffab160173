_base_ = [
    "../_base_/models/gfl_r50_fpn.py",
    "../_base_/datasets/coco_detection.py",
    "../_base_/schedules/schedule_1x.py",
    "../_base_/default_runtime.py",
]

# MMDetection's recipe: SGD lr 0.01 for 16 images.
optim_wrapper = dict(optimizer=dict(lr=0.01))

# The backbone starts from OpenLab's ImageNet-1k ResNet-50 (protocol imagenet-1k-100e): the
# benchmark trains and publishes it first unless the zoo already has it.
model = dict(
    backbone=dict(
        init_cfg=dict(type="Pretrained", checkpoint="zoo://resnet50_8xb32_in1k", prefix="backbone.")
    )
)
