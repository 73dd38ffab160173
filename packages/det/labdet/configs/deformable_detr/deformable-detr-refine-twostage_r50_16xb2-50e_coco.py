# Two-stage Deformable DETR with box refinement: the decoder's queries and reference boxes
# come from the 300 best-scored proposals of the encoder.
_base_ = ["./deformable-detr-refine_r50_16xb2-50e_coco.py"]

model = dict(as_two_stage=True)
