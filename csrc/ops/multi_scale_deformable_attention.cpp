// Schema of lab::multi_scale_deformable_attention (Zhu et al., "Deformable DETR").
//   value               [B, S, H, D]   S = sum of h_l * w_l over the levels
//   spatial_shapes      [L, 2] int64   (h_l, w_l) per level
//   level_start_index   [L] int64      offset of each level in S
//   sampling_locations  [B, Q, H, L, P, 2]  (x, y) normalised to [0, 1]
//   attention_weights   [B, Q, H, L, P]
//   -> output           [B, Q, H * D]
// Sampling is bilinear with zero padding, as grid_sample(align_corners=False).
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def(
      "multi_scale_deformable_attention(Tensor value, Tensor spatial_shapes, "
      "Tensor level_start_index, Tensor sampling_locations, Tensor attention_weights) -> Tensor");
  m.def(
      "multi_scale_deformable_attention_backward(Tensor grad_output, Tensor value, "
      "Tensor spatial_shapes, Tensor level_start_index, Tensor sampling_locations, "
      "Tensor attention_weights) -> (Tensor, Tensor, Tensor)");
}
