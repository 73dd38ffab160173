// CPU kernel of lab::bbox_overlaps, parallel over the rows of the output.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/box_math.h"
#include "ops/common/checks.h"

namespace lab {
namespace {

at::Tensor bbox_overlaps_cpu(
    const at::Tensor& boxes1_in, const at::Tensor& boxes2_in, int64_t mode, bool aligned,
    double eps) {
  check_box_pair(boxes1_in, boxes2_in, 4, aligned, "bbox_overlaps");
  TORCH_CHECK(mode >= 0 && mode <= 2, "bbox_overlaps: mode must be 0, 1 or 2, got ", mode);
  const at::Tensor a = boxes1_in.contiguous();
  const at::Tensor b = boxes2_in.contiguous();
  const int64_t n = a.size(0);
  const int64_t m = b.size(0);
  at::Tensor out = aligned ? at::empty({n}, a.options()) : at::empty({n, m}, a.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "bbox_overlaps_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    // Work in opmath precision; half inputs are widened once.
    const at::Tensor a_op = a.to(c10::CppTypeToScalarType<T>());
    const at::Tensor b_op = b.to(c10::CppTypeToScalarType<T>());
    const T* pa = a_op.const_data_ptr<T>();
    const T* pb = b_op.const_data_ptr<T>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    const T e = static_cast<T>(eps);
    if (aligned) {
      at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const T* x = pa + 4 * i;
          const T* y = pb + 4 * i;
          po[i] = static_cast<scalar_t>(
              boxes::overlap(x, y, boxes::area(x), boxes::area(y), mode, e));
        }
      });
      return;
    }
    std::vector<T> area_b(m);
    for (int64_t j = 0; j < m; ++j) area_b[j] = boxes::area(pb + 4 * j);
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(m, 1));
    at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T* x = pa + 4 * i;
        const T area_x = boxes::area(x);
        scalar_t* row = po + i * m;
        for (int64_t j = 0; j < m; ++j) {
          row[j] = static_cast<scalar_t>(boxes::overlap(x, pb + 4 * j, area_x, area_b[j], mode, e));
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("bbox_overlaps", &bbox_overlaps_cpu);
}

}  // namespace lab
