// CPU kernels of lab::bbox_overlaps, parallel over the rows of the output, and of
// lab::bbox_overlaps_backward: for pairwise overlaps, the gradient of boxes1 is summed
// along the rows of grad and the gradient of boxes2 down its columns, each by its own
// pass, so that no two threads add into the same box.
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
  check_overlap_mode(mode, "bbox_overlaps");
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

std::tuple<at::Tensor, at::Tensor> bbox_overlaps_backward_cpu(
    const at::Tensor& grad_in, const at::Tensor& boxes1_in, const at::Tensor& boxes2_in,
    int64_t mode, bool aligned, double eps) {
  check_box_pair(boxes1_in, boxes2_in, 4, aligned, "bbox_overlaps_backward");
  check_overlaps_grad(grad_in, boxes1_in, boxes2_in, aligned);
  check_overlap_mode(mode, "bbox_overlaps_backward");
  const int64_t n = boxes1_in.size(0);
  const int64_t m = boxes2_in.size(0);
  at::Tensor grad1 = at::empty({n, 4}, boxes1_in.options());
  at::Tensor grad2 = at::empty({m, 4}, boxes2_in.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, boxes1_in.scalar_type(), "bbox_overlaps_backward_cpu", [&] {
        using T = at::opmath_type<scalar_t>;
        const auto op_type = c10::CppTypeToScalarType<T>();
        const at::Tensor a = boxes1_in.to(op_type).contiguous();
        const at::Tensor b = boxes2_in.to(op_type).contiguous();
        const at::Tensor grad = grad_in.to(op_type).contiguous();
        const T* pa = a.const_data_ptr<T>();
        const T* pb = b.const_data_ptr<T>();
        const T* pg = grad.const_data_ptr<T>();
        scalar_t* p1 = grad1.mutable_data_ptr<scalar_t>();
        scalar_t* p2 = grad2.mutable_data_ptr<scalar_t>();
        const T e = static_cast<T>(eps);
        if (aligned) {
          at::parallel_for(0, n, 2048, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
              T ga[4] = {0, 0, 0, 0};
              T gb[4] = {0, 0, 0, 0};
              boxes::overlap_backward(pa + 4 * i, pb + 4 * i, mode, e, pg[i], ga, gb);
              for (int c = 0; c < 4; ++c) {
                p1[4 * i + c] = static_cast<scalar_t>(ga[c]);
                p2[4 * i + c] = static_cast<scalar_t>(gb[c]);
              }
            }
          });
          return;
        }
        // boxes1: each box sums its row of grad.
        const int64_t row_grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(m, 1));
        at::parallel_for(0, n, row_grain, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            T ga[4] = {0, 0, 0, 0};
            T unused[4] = {0, 0, 0, 0};
            for (int64_t j = 0; j < m; ++j) {
              boxes::overlap_backward(pa + 4 * i, pb + 4 * j, mode, e, pg[i * m + j], ga, unused);
            }
            for (int c = 0; c < 4; ++c) p1[4 * i + c] = static_cast<scalar_t>(ga[c]);
          }
        });
        // boxes2: each thread owns a block of columns and walks down the rows, so it reads
        // grad one contiguous piece of a row at a time.
        const int64_t column_grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1));
        at::parallel_for(0, m, column_grain, [&](int64_t begin, int64_t end) {
          std::vector<T> gb(4 * (end - begin), T(0));
          T unused[4] = {0, 0, 0, 0};
          for (int64_t i = 0; i < n; ++i) {
            const T* row = pg + i * m;
            for (int64_t j = begin; j < end; ++j) {
              boxes::overlap_backward(pa + 4 * i, pb + 4 * j, mode, e, row[j], unused,
                                      gb.data() + 4 * (j - begin));
            }
          }
          for (int64_t k = 0; k < 4 * (end - begin); ++k) {
            p2[4 * begin + k] = static_cast<scalar_t>(gb[k]);
          }
        });
      });
  return {grad1, grad2};
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("bbox_overlaps", &bbox_overlaps_cpu);
  m.impl("bbox_overlaps_backward", &bbox_overlaps_backward_cpu);
}

}  // namespace lab
