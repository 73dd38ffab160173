// Schema of lab::bbox_overlaps: overlaps of axis-aligned boxes (x1, y1, x2, y2).
// mode: 0 = iou, 1 = iof (intersection over the area of boxes1), 2 = giou.
// aligned=false gives the pairwise [N, M] matrix, aligned=true the [N] row-wise values.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def("bbox_overlaps(Tensor boxes1, Tensor boxes2, int mode, bool aligned, float eps) -> Tensor");
}
