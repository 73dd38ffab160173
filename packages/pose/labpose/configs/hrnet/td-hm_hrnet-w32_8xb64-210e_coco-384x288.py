# Imported-weights config: MMPose's td-hm_hrnet-w32_8xb64-210e_coco-384x288
# (HRNet-W32 at 384x288) under MMPose's file name, so that MMPose's published weights
# load into it (model_zoo/imported-openmmlab-mmpose.yml).
_base_ = ["./hrnet_w32_210e_coco-384x288.py"]

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
