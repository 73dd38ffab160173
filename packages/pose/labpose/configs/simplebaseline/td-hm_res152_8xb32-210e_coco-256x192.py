# Imported-weights config: MMPose's td-hm_res152_8xb32-210e_coco-256x192
# (SimpleBaseline ResNet-152 at 256x192) under MMPose's file name, so that MMPose's published weights
# load into it (model_zoo/imported-openmmlab-mmpose.yml).
_base_ = ["./simplebaseline_r50_210e_coco-256x192.py"]

model = dict(
    backbone=dict(
        depth=152,
        init_cfg=dict(checkpoint="zoo://resnet152_8xb32_in1k"),
    )
)

train_dataloader = dict(batch_size=32)

# As MMPose's config: test on the person boxes of a detector of 56.4 human AP on val2017
# (MMPose's COCO_val2017_detections_AP_H_56_person.json), the boxes its AP is stated for.
val_dataloader = dict(
    dataset=dict(
        bbox_file="data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
    )
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file="data/coco/annotations/person_keypoints_val2017.json")
test_evaluator = val_evaluator
