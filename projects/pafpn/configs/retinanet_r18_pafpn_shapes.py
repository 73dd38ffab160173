# labdet's tiny RetinaNet (det-shapes-tiny) with PAFPN in place of FPN: the same
# backbone, head and schedule, so the two differ by the neck alone.
_base_ = ["labdet::retinanet/retinanet_r18_fpn_shapes.py"]

# Registers PAFPN in labdet's registry; OpenLab finds `projects` beside this file's
# `projects/` folder, so the config runs from any working directory.
custom_imports = dict(imports=["projects.pafpn.pafpn"], allow_failed_imports=False)

model = dict(
    neck=dict(
        _delete_=True, type="PAFPN", in_channels=[32, 64, 128], out_channels=64, extra_levels="none"
    )
)
