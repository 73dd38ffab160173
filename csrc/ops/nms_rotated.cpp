// Schema of lab::nms_rotated: greedy non-maximum suppression of rotated boxes
// (cx, cy, w, h, angle in radians); returns the kept indices by decreasing score.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def("nms_rotated(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor");
}
