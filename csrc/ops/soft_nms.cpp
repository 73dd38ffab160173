// Schema of lab::soft_nms (Bodla et al., "Soft-NMS: Improving Object Detection With One
// Line of Code"). method: 0 = linear (score *= 1 - iou where iou > iou_threshold),
// 1 = gaussian (score *= exp(-iou^2 / sigma)). Boxes whose score falls below min_score
// are dropped. Returns (kept indices in selection order, their decayed scores).
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def(
      "soft_nms(Tensor boxes, Tensor scores, float iou_threshold, float sigma, float min_score, "
      "int method) -> (Tensor, Tensor)");
}
