// CPU kernel of lab::box_iou_rotated, parallel over the rows of the output.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/rotated_box_math.h"

namespace lab {
namespace {

at::Tensor box_iou_rotated_cpu(const at::Tensor& boxes1_in, const at::Tensor& boxes2_in, bool aligned) {
  check_box_pair(boxes1_in, boxes2_in, 5, aligned, "box_iou_rotated");
  const at::Tensor a = boxes1_in.contiguous();
  const at::Tensor b = boxes2_in.contiguous();
  const int64_t n = a.size(0);
  const int64_t m = b.size(0);
  at::Tensor out = aligned ? at::empty({n}, a.options()) : at::empty({n, m}, a.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "box_iou_rotated_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor a_op = a.to(c10::CppTypeToScalarType<T>());
    const at::Tensor b_op = b.to(c10::CppTypeToScalarType<T>());
    const T* pa = a_op.const_data_ptr<T>();
    const T* pb = b_op.const_data_ptr<T>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    if (aligned) {
      at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          po[i] = static_cast<scalar_t>(rotated::iou(pa + 5 * i, pb + 5 * i));
        }
      });
      return;
    }
    const int64_t grain = std::max<int64_t>(1, 1024 / std::max<int64_t>(m, 1));
    at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t j = 0; j < m; ++j) {
          po[i * m + j] = static_cast<scalar_t>(rotated::iou(pa + 5 * i, pb + 5 * j));
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("box_iou_rotated", &box_iou_rotated_cpu);
}

}  // namespace lab
