// Argument checks shared by the kernels of every backend.
#pragma once

#include <ATen/ATen.h>

namespace lab {

// reduction codes of lab::sigmoid_focal_loss
enum Reduction : int64_t { kNone = 0, kMean = 1, kSum = 2 };

inline void check_focal_args(
    const at::Tensor& logits,
    const at::Tensor& targets,
    const std::optional<at::Tensor>& weight,
    int64_t reduction) {
  TORCH_CHECK(
      logits.sizes() == targets.sizes(), "sigmoid_focal_loss: targets must have the shape of "
      "logits, got ", targets.sizes(), " and ", logits.sizes());
  TORCH_CHECK(
      logits.scalar_type() == targets.scalar_type(), "sigmoid_focal_loss: targets must have "
      "the dtype of logits, got ", targets.scalar_type(), " and ", logits.scalar_type());
  if (weight.has_value()) {
    TORCH_CHECK(
        weight->sizes() == logits.sizes() && weight->scalar_type() == logits.scalar_type(),
        "sigmoid_focal_loss: weight must have the shape and dtype of logits, got ",
        weight->sizes(), " ", weight->scalar_type());
  }
  TORCH_CHECK(
      reduction >= kNone && reduction <= kSum,
      "sigmoid_focal_loss: reduction must be 0 (none), 1 (mean) or 2 (sum), got ", reduction);
}

}  // namespace lab

namespace lab {

inline void check_boxes(const at::Tensor& boxes, int64_t dims, const char* op, const char* name) {
  TORCH_CHECK(
      boxes.dim() == 2 && boxes.size(1) == dims, op, ": ", name, " must have shape [N, ", dims,
      "], got ", boxes.sizes());
  TORCH_CHECK(
      at::isFloatingType(boxes.scalar_type()), op, ": ", name, " must be floating point, got ",
      boxes.scalar_type());
}

inline void check_box_pair(
    const at::Tensor& a, const at::Tensor& b, int64_t dims, bool aligned, const char* op) {
  check_boxes(a, dims, op, "boxes1");
  check_boxes(b, dims, op, "boxes2");
  TORCH_CHECK(
      a.scalar_type() == b.scalar_type() && a.device() == b.device(), op,
      ": boxes1 and boxes2 must have the same dtype and device, got ", a.scalar_type(), " on ",
      a.device(), " and ", b.scalar_type(), " on ", b.device());
  TORCH_CHECK(
      !aligned || a.size(0) == b.size(0), op, ": aligned=True needs as many boxes1 as boxes2, got ",
      a.size(0), " and ", b.size(0));
}

// mode of lab::bbox_overlaps (boxes::OverlapMode).
inline void check_overlap_mode(int64_t mode, const char* op) {
  TORCH_CHECK(
      mode >= 0 && mode <= 2, op, ": mode must be 0 (iou), 1 (iof) or 2 (giou), got ", mode);
}

// grad of lab::bbox_overlaps_backward: the shape of the overlaps of a and b.
inline void check_overlaps_grad(
    const at::Tensor& grad, const at::Tensor& a, const at::Tensor& b, bool aligned) {
  const std::vector<int64_t> expected =
      aligned ? std::vector<int64_t>{a.size(0)} : std::vector<int64_t>{a.size(0), b.size(0)};
  TORCH_CHECK(
      grad.sizes() == at::IntArrayRef(expected) && grad.device() == a.device() &&
          at::isFloatingType(grad.scalar_type()),
      "bbox_overlaps_backward: grad must be a floating-point tensor of the overlaps' shape ",
      at::IntArrayRef(expected), " on ", a.device(), ", got ", grad.scalar_type(), " ",
      grad.sizes(), " on ", grad.device());
}

inline void check_scored_boxes(
    const at::Tensor& boxes, const at::Tensor& scores, int64_t dims, const char* op) {
  check_boxes(boxes, dims, op, "boxes");
  TORCH_CHECK(
      scores.dim() == 1 && scores.size(0) == boxes.size(0), op,
      ": scores must have shape [N] for boxes [N, ", dims, "], got ", scores.sizes(), " and ",
      boxes.sizes());
  TORCH_CHECK(
      scores.scalar_type() == boxes.scalar_type() && scores.device() == boxes.device(), op,
      ": scores must have the dtype and device of boxes");
}

}  // namespace lab

namespace lab {

inline void check_msda_args(
    const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations, const at::Tensor& attention_weights) {
  const char* op = "multi_scale_deformable_attention";
  TORCH_CHECK(value.dim() == 4, op, ": value must have shape [B, S, H, D], got ", value.sizes());
  TORCH_CHECK(
      spatial_shapes.dim() == 2 && spatial_shapes.size(1) == 2 &&
          spatial_shapes.scalar_type() == at::kLong,
      op, ": spatial_shapes must be an int64 tensor of shape [L, 2], got ",
      spatial_shapes.scalar_type(), " ", spatial_shapes.sizes());
  const int64_t levels = spatial_shapes.size(0);
  TORCH_CHECK(
      level_start_index.dim() == 1 && level_start_index.size(0) == levels &&
          level_start_index.scalar_type() == at::kLong,
      op, ": level_start_index must be an int64 tensor of shape [L], got ",
      level_start_index.scalar_type(), " ", level_start_index.sizes());
  TORCH_CHECK(
      sampling_locations.dim() == 6 && sampling_locations.size(0) == value.size(0) &&
          sampling_locations.size(2) == value.size(2) && sampling_locations.size(3) == levels &&
          sampling_locations.size(5) == 2,
      op, ": sampling_locations must have shape [B, Q, H, L, P, 2], got ",
      sampling_locations.sizes(), " for value ", value.sizes(), " and ", levels, " levels");
  TORCH_CHECK(
      attention_weights.sizes() == sampling_locations.sizes().slice(0, 5), op,
      ": attention_weights must have shape [B, Q, H, L, P] = ",
      sampling_locations.sizes().slice(0, 5), ", got ", attention_weights.sizes());
  TORCH_CHECK(
      value.scalar_type() == sampling_locations.scalar_type() &&
          value.scalar_type() == attention_weights.scalar_type() &&
          (value.scalar_type() == at::kFloat || value.scalar_type() == at::kDouble),
      op, ": value, sampling_locations and attention_weights must all be float32 or float64");
}

}  // namespace lab

namespace lab {

inline void check_roi_align_rotated_args(
    const at::Tensor& input, const at::Tensor& rois, int64_t pooled_height, int64_t pooled_width,
    int64_t sampling_ratio) {
  const char* op = "roi_align_rotated";
  TORCH_CHECK(input.dim() == 4, op, ": input must have shape [B, C, H, W], got ", input.sizes());
  TORCH_CHECK(
      rois.dim() == 2 && rois.size(1) == 6, op,
      ": rois must have shape [K, 6] (batch index, cx, cy, w, h, angle), got ", rois.sizes());
  TORCH_CHECK(
      input.scalar_type() == rois.scalar_type() && input.device() == rois.device(), op,
      ": input and rois must have the same dtype and device, got ", input.scalar_type(), " on ",
      input.device(), " and ", rois.scalar_type(), " on ", rois.device());
  TORCH_CHECK(
      input.scalar_type() == at::kFloat || input.scalar_type() == at::kDouble, op,
      ": input and rois must be float32 or float64, got ", input.scalar_type());
  TORCH_CHECK(
      pooled_height > 0 && pooled_width > 0, op, ": pooled_height and pooled_width must be "
      "positive, got ", pooled_height, " and ", pooled_width);
  TORCH_CHECK(sampling_ratio >= 0, op, ": sampling_ratio must be >= 0, got ", sampling_ratio);
}

// grad of lab::roi_align_rotated_backward: [K, C, pooled_height, pooled_width], the dtype
// and device of rois; the input's sizes must be non-negative.
inline void check_roi_align_rotated_grad(
    const at::Tensor& grad, const at::Tensor& rois, int64_t channels, int64_t pooled_height,
    int64_t pooled_width, int64_t batch, int64_t height, int64_t width) {
  const char* op = "roi_align_rotated_backward";
  TORCH_CHECK(
      rois.dim() == 2 && rois.size(1) == 6, op, ": rois must have shape [K, 6], got ",
      rois.sizes());
  TORCH_CHECK(
      grad.dim() == 4 && grad.size(0) == rois.size(0) && grad.size(1) == channels &&
          grad.size(2) == pooled_height && grad.size(3) == pooled_width,
      op, ": grad must have shape [K, C, pooled_height, pooled_width] = [", rois.size(0), ", ",
      channels, ", ", pooled_height, ", ", pooled_width, "], got ", grad.sizes());
  TORCH_CHECK(
      grad.scalar_type() == rois.scalar_type() && grad.device() == rois.device() &&
          (grad.scalar_type() == at::kFloat || grad.scalar_type() == at::kDouble),
      op, ": grad and rois must be float32 or float64 on one device, got ", grad.scalar_type(),
      " on ", grad.device(), " and ", rois.scalar_type(), " on ", rois.device());
  TORCH_CHECK(
      batch >= 0 && channels >= 0 && height >= 0 && width >= 0, op,
      ": the input sizes must be non-negative, got ", batch, " x ", channels, " x ", height,
      " x ", width);
}

}  // namespace lab
