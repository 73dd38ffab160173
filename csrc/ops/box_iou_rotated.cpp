// Schema of lab::box_iou_rotated: IoU of rotated boxes (cx, cy, w, h, angle in radians);
// aligned=false gives the pairwise [N, M] matrix, aligned=true the [N] row-wise IoUs.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def("box_iou_rotated(Tensor boxes1, Tensor boxes2, bool aligned) -> Tensor");
}
