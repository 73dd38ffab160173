// Schema of lab::roi_align_rotated: RoI Align on rotated RoIs.
// input [B, C, H, W]; rois [K, 6] (batch index, cx, cy, w, h, angle in radians, in input
// pixels before spatial_scale) -> [K, C, pooled_height, pooled_width]. sampling_ratio 0
// samples ceil(roi size / pooled size) points per bin along each side.
// Kernels: cpu/ and cuda/; autograd and fake kernels: labcore/ops/roi_align_rotated.py.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def(
      "roi_align_rotated(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width, int sampling_ratio, bool aligned) -> Tensor");
  // Gradient of input [batch, channels, height, width] from grad, the gradient of the
  // output [K, C, pooled_height, pooled_width]. No gradient reaches the RoIs.
  m.def(
      "roi_align_rotated_backward(Tensor grad, Tensor rois, float spatial_scale, "
      "int pooled_height, int pooled_width, int batch, int channels, int height, int width, "
      "int sampling_ratio, bool aligned) -> Tensor");
}
