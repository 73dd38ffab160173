// CPU kernel of lab::nms_rotated: greedy suppression in order of decreasing score.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/rotated_box_math.h"

namespace lab {
namespace {

at::Tensor nms_rotated_cpu(const at::Tensor& boxes_in, const at::Tensor& scores, double iou_threshold) {
  check_scored_boxes(boxes_in, scores, 5, "nms_rotated");
  const int64_t n = boxes_in.size(0);
  if (n == 0) return at::empty({0}, boxes_in.options().dtype(at::kLong));
  // Stable sort: among equal scores the lower index comes first.
  const at::Tensor order =
      std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
  at::Tensor keep = at::empty({n}, boxes_in.options().dtype(at::kLong));
  int64_t num_kept = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, boxes_in.scalar_type(), "nms_rotated_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor boxes = boxes_in.to(c10::CppTypeToScalarType<T>()).contiguous();
    const T* pb = boxes.const_data_ptr<T>();
    const int64_t* po = order.const_data_ptr<int64_t>();
    int64_t* pk = keep.mutable_data_ptr<int64_t>();
    const T threshold = static_cast<T>(iou_threshold);
    std::vector<uint8_t> suppressed(n, 0);
    for (int64_t a = 0; a < n; ++a) {
      const int64_t i = po[a];
      if (suppressed[i]) continue;
      pk[num_kept++] = i;
      for (int64_t c = a + 1; c < n; ++c) {
        const int64_t j = po[c];
        if (!suppressed[j] && rotated::iou(pb + 5 * i, pb + 5 * j) > threshold) suppressed[j] = 1;
      }
    }
  });
  return keep.narrow(0, 0, num_kept).clone();
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("nms_rotated", &nms_rotated_cpu);
}

}  // namespace lab
