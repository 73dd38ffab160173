// CUDA kernel of lab::box_iou_rotated: one thread per output element.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/rotated_box_math.h"
#include "ops/cuda/cuda_helpers.cuh"

namespace lab {
namespace {

template <typename scalar_t, typename T>
__global__ void box_iou_rotated_kernel(
    int64_t n, int64_t m, bool aligned, const scalar_t* a, const scalar_t* b, scalar_t* out) {
  const int64_t total = aligned ? n : n * m;
  LAB_GRID_STRIDE_LOOP(k, total) {
    const int64_t i = aligned ? k : k / m;
    const int64_t j = aligned ? k : k % m;
    T x[5];
    T y[5];
    for (int c = 0; c < 5; ++c) {
      x[c] = static_cast<T>(a[5 * i + c]);
      y[c] = static_cast<T>(b[5 * j + c]);
    }
    out[k] = static_cast<scalar_t>(rotated::iou(x, y));
  }
}

at::Tensor box_iou_rotated_cuda(const at::Tensor& boxes1_in, const at::Tensor& boxes2_in, bool aligned) {
  check_box_pair(boxes1_in, boxes2_in, 5, aligned, "box_iou_rotated");
  const c10::cuda::CUDAGuard guard(boxes1_in.device());
  const at::Tensor a = boxes1_in.contiguous();
  const at::Tensor b = boxes2_in.contiguous();
  const int64_t n = a.size(0);
  const int64_t m = b.size(0);
  at::Tensor out = aligned ? at::empty({n}, a.options()) : at::empty({n, m}, a.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "box_iou_rotated_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    box_iou_rotated_kernel<scalar_t, T>
        <<<cuda::blocks_for(out.numel()), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            n, m, aligned, a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(),
            out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CUDA, m) {
  m.impl("box_iou_rotated", &box_iou_rotated_cuda);
}

}  // namespace lab
