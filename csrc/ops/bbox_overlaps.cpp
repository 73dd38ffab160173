// Schema of lab::bbox_overlaps: overlaps of axis-aligned boxes (x1, y1, x2, y2).
// mode: 0 = iou, 1 = iof (intersection over the area of boxes1), 2 = giou.
// aligned=false gives the pairwise [N, M] matrix, aligned=true the [N] row-wise values.
// Kernels: cpu/ and cuda/; autograd and fake kernels: labcore/ops/bbox_overlaps.py.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def("bbox_overlaps(Tensor boxes1, Tensor boxes2, int mode, bool aligned, float eps) -> Tensor");
  // Gradients of boxes1 [N, 4] and boxes2 [M, 4] from grad, the gradient of the output
  // ([N, M], or [N] when aligned).
  m.def(
      "bbox_overlaps_backward(Tensor grad, Tensor boxes1, Tensor boxes2, int mode, bool aligned, "
      "float eps) -> (Tensor, Tensor)");
}
