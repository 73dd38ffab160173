# Deformable DETR with iterative bounding box refinement: every decoder layer refines the
# reference boxes with its own box branch.
_base_ = ["./deformable-detr_r50_16xb2-50e_coco.py"]

model = dict(with_box_refine=True)
